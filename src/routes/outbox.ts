import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import PostalMime from 'postal-mime';
import type { i18n } from 'i18next';
import { compileTemplate, createTemplateEngine, readView } from '../envelope/templates.ts';
import { pickLocale, SUPPORTED_LOCALES, type Locale } from '../i18n/locales.ts';
import type { MailService } from '../domain/mail/mail-service.ts';
import { DEFAULT_CSP } from '../plugins/security-headers.ts';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1a1a1a}' +
  'table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}' +
  'caption{text-align:left;font-weight:600;padding:.4rem 0}pre{white-space:pre-wrap;background:#f4f4f4;padding:1rem}' +
  'a{color:#0645ad}.lang{margin:1rem 0}button,select{font:inherit}';
// Pages carry only this stylesheet: no script, no remote anything, forms to this origin only.
const CSP = `${DEFAULT_CSP.replace("form-action 'none'", "form-action 'self'")}; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

/** http(s) links in an already escaped text become anchors; nothing else is markup. */
function linkify(escaped: string): string {
  return escaped.replace(/https?:\/\/[^\s<>"']+/g, (url) => `<a href="${url}">${url}</a>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The local outbox, for installations without SMTP_URL: a newcomer on one machine can follow
 * verification and reset mails here. Registered only in outbox mode, and answering only
 * requests from this machine, because these mails carry sign-in links.
 */
export async function outboxRoutes(app: FastifyInstance, opts: { mail: MailService; i18n: i18n; views: string }): Promise<void> {
  const { mail } = opts;
  const names = new Map(SUPPORTED_LOCALES.map((l) => [l, new Intl.DisplayNames([l], { type: 'language' }).of(l) ?? l]));

  const render = (view: string, locale: Locale, data: object) => {
    const hbs = createTemplateEngine({ i18n: opts.i18n, locale });
    hbs.registerPartial('head', readView(opts.views, 'pages/layout-head.hbs'));
    return compileTemplate(hbs, readView(opts.views, view), { name: view })({ ...data, lang: locale, style: STYLE });
  };
  const localeOf = (request: FastifyRequest) =>
    pickLocale([(request.query as { lang?: string }).lang, ...String(request.headers['accept-language'] ?? '').split(',')]);
  const kindLabel = (locale: Locale, kind: string) => opts.i18n.getFixedT(locale)(`outbox:kinds.${kind}`);

  app.addHook('onRequest', async (request, reply) => {
    if (!isLoopback(request.ip)) return reply.code(404).type('text/plain').send('Not found');
  });

  app.get('/outbox', { schema: { hide: true } }, async (request, reply) => {
    const locale = localeOf(request);
    const mails = (await mail.listOutbox(100)).map((m) => ({ ...m, kind: kindLabel(locale, m.kind) }));
    const locales = SUPPORTED_LOCALES.map((code) => ({ code, name: names.get(code), selected: code === locale }));
    const t = opts.i18n.getFixedT(locale);
    return reply
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(render('pages/outbox-list.hbs', locale, { title: t('outbox:title'), mails, locales }));
  });

  app.get('/outbox/:id', { schema: { hide: true } }, async (request, reply) => {
    const locale = localeOf(request);
    const { id } = request.params as { id: string };
    const raw = await mail.readOutbox(id);
    const entry = raw ? (await mail.listOutbox(1000)).find((m) => m.id === id) : undefined;
    const t = opts.i18n.getFixedT(locale);
    reply.header('content-security-policy', CSP).header('cache-control', 'no-store');
    if (!raw || !entry) return reply.code(404).type('text/plain; charset=utf-8').send(t('outbox:notFound'));
    const parsed = await PostalMime.parse(raw);
    return reply.type('text/html; charset=utf-8').send(
      render('pages/outbox-message.hbs', locale, {
        title: entry.subject,
        id,
        subject: entry.subject,
        to: entry.to,
        createdAt: entry.createdAt,
        kind: kindLabel(locale, entry.kind),
        bodyHtml: linkify(escapeHtml(parsed.text ?? '')),
      }),
    );
  });

  app.get('/outbox/:id/raw', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const raw = await mail.readOutbox(id);
    if (!raw) return reply.code(404).type('text/plain').send('Not found');
    return reply
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${id}.eml"`)
      .type('message/rfc822')
      .send(raw);
  });
}
