import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelope } from '../crypto/envelope-crypto.ts';
import { ENVELOPE_ID } from '../domain/envelopes/envelope-service.ts';
import type { EnvelopeRecord } from '../domain/envelopes/envelope-types.ts';
import { SESSION_COOKIE, type SessionInfo } from '../domain/accounts/session-service.ts';
import type { Opening } from '../domain/releases/opening-seal.ts';
import { offlineOffer } from '../domain/releases/offline-offer.ts';
import type { Decision, Opener } from '../domain/releases/release-rules.ts';
import type { ReleaseMode } from '../domain/releases/release-service.ts';
import { pickLocale, type Locale } from '../i18n/locales.ts';
import { isSameOrigin } from '../plugins/origin-check.ts';
import type { PageRenderer } from '../plugins/pages.ts';
import { readerStartScriptCache } from '../reader/bundle.ts';
import { appletReaderPage, serverAttachment, serverReaderPage, type EnvelopeSummary } from '../reader/reader-pages.ts';
import { payloadUrlFor, type Services } from '../services.ts';
import { openingOf as openingFromCookie, setOpeningCookie } from './opening-cookie.ts';

interface OpenRouteOptions {
  config: Config;
  services: Services;
  pages: PageRenderer;
  now?: () => Date;
}

interface EntryBody {
  v?: string;
  mode?: string;
  secret?: string;
  payload?: string;
  payload_url?: string;
  go?: string;
}

const SECRET = /^[A-Za-z0-9_-]{43}$/;
// Base64 of the largest message a profile allows (25 MB), plus line breaks and the other fields.
const ENTRY_BODY_LIMIT = 40 * 1024 * 1024;

/**
 * Opening an envelope (DESIGN.md section 3): the "Open" button of securedoc.html posts here.
 *
 *   POST /open/:id   the entry. Accepted from any origin (the envelope file is a local page with
 *                    Origin: null). Keeps an inline payload (checked against its digest), seals
 *                    the opening into a cookie, and redirects to GET /open/:id. In applet mode
 *                    the envelope secret is in the URL fragment, which the redirect keeps.
 *   GET  /open/:id   decides (release rules) which page to show: sign in, reauthenticate,
 *                    locked, expired, not a recipient, or the message.
 *   POST /open/:id/key   applet mode: releases the server share to this origin's script.
 *   GET  /open/:id/attachments/:n, /open/:id/message.eml   server-mode downloads.
 */
export async function openRoutes(app: FastifyInstance, opts: OpenRouteOptions): Promise<void> {
  const { services, pages, config } = opts;
  const now = opts.now ?? (() => new Date());
  const publicOrigin = new URL(config.publicUrl).origin;
  const readerStartScript = readerStartScriptCache();

  const localeFor = (request: FastifyRequest, envelope: EnvelopeRecord | null): Locale =>
    pages.localeOf(request, envelope ? pickLocale([envelope.locale]) : undefined);

  async function openerOf(request: FastifyRequest): Promise<{ opener: Opener; session: SessionInfo | null }> {
    // One statement for both: this runs for every key release.
    const found = await services.sessions.withAddresses(request.cookies[SESSION_COOKIE]);
    const session = found?.session ?? null;
    return { opener: { session, addresses: found?.addresses ?? [] }, session };
  }

  const openingOf = (request: FastifyRequest, id: string): Opening | null => openingFromCookie(request, services.openings, id, now());

  function statePage(request: FastifyRequest, reply: FastifyReply, envelope: EnvelopeRecord | null, state: string, status: number, data: object = {}) {
    return pages.send(request, reply, {
      view: `pages/open/${state}.hbs`,
      titleKey: `open:${state}.title`,
      locale: localeFor(request, envelope),
      status,
      data: { ...data, envelopeId: envelope?.id },
    });
  }

  /** The page for a refused release; null when the refusal is answered by a redirect. */
  function refusal(request: FastifyRequest, reply: FastifyReply, decision: Decision & { ok: false }, id: string, opening: Opening | null = null) {
    const next = encodeURIComponent(`/open/${id}`);
    // The sign-in form offers "keep the key on this computer" only where it could work.
    const offline = decision.envelope && offlineOffer(decision.envelope, opening, null) === 'offer' ? '&offline=1' : '';
    switch (decision.reason) {
      case 'unknown':
        return statePage(request, reply, null, 'unknown', 404);
      case 'locked':
        return statePage(request, reply, decision.envelope, 'locked', 403, { reason: decision.envelope?.lockReason });
      case 'expired':
        return statePage(request, reply, decision.envelope, 'expired', 410, { expiredAt: decision.envelope?.expiresAt });
      case 'sign_in':
        return reply.code(303).header('location', `/signin?next=${next}${offline}`).send();
      case 'reauth':
        return reply.code(303).header('location', `/signin?next=${next}&reauth=1${offline}`).send();
      case 'not_recipient': {
        const envelope = decision.envelope!;
        // The visible recipients only: a Bcc recipient's address is nobody else's business.
        const addresses = [...envelope.recipients.to, ...envelope.recipients.cc];
        return statePage(request, reply, envelope, 'not-recipient', 403, { addresses });
      }
    }
  }

  function summaryOf(envelope: EnvelopeRecord): EnvelopeSummary {
    return {
      envelopeId: envelope.id,
      sender: envelope.sender,
      to: envelope.recipients.to,
      cc: envelope.recipients.cc,
      subject: envelope.subject,
      sentAt: envelope.createdAt,
      expiresAt: envelope.expiresAt,
      securityLevel: envelope.securityLevel,
    };
  }

  async function payloadUrlOf(envelope: EnvelopeRecord): Promise<string> {
    if (envelope.payload.transport === 'inline') return `/payloads/${envelope.id}`;
    const profile = await services.profiles.byId(envelope.profileId);
    const transport = profile?.settings.payloadTransport ?? { referenceScheme: 'public' as const, separateUrl: null };
    return payloadUrlFor(config, transport, envelope.id);
  }

  /** Server mode: release, fetch the ciphertext, decrypt. The plaintext lives for this request only. */
  async function decryptForServer(request: FastifyRequest, reply: FastifyReply, id: string, opening: Opening, mode: 'view' | 'download') {
    const { opener } = await openerOf(request);
    const release =
      mode === 'view'
        ? await services.releases.release({ envelopeId: id, opener, openedAt: opening.openedAt, mode: 'server', ip: request.ip })
        : await services.releases.check(id, opener, opening.openedAt).then(async (d) => (d.ok ? { ...d, serverShare: (await services.envelopes.serverShare(id))! } : d));
    if (!release.ok) return { reply: refusal(request, reply, release, id) };
    const ciphertext = await services.envelopes.payload(id);
    try {
      if (!ciphertext) throw new EnvelopeFormatError('the payload is not on this server');
      const raw = await openEnvelope(
        { serverShare: release.serverShare, envelopeSecret: Buffer.from(opening.secret!, 'base64url'), expectedEnvelopeId: Buffer.from(id, 'base64url') },
        ciphertext,
      );
      return { raw, envelope: release.envelope };
    } catch (err) {
      if (!(err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError)) throw err;
      await services.releases.recordTampered({ envelopeId: id, opener, mode: 'server', ip: request.ip });
      return { reply: statePage(request, reply, release.envelope, 'tampered', 422) };
    }
  }

  app.post(
    '/open/:id',
    { bodyLimit: ENTRY_BODY_LIMIT, config: { crossSite: true }, schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = (request.body ?? {}) as EntryBody;
      if (!ENVELOPE_ID.test(id)) return statePage(request, reply, null, 'unknown', 404);

      // A button on one of this service's own pages posting back to the same URL (action=""
      // keeps the fragment): only from this origin.
      if (typeof body.go === 'string') {
        if (!isSameOrigin(request, publicOrigin)) return pages.send(request, reply, { view: 'pages/refused.hbs', titleKey: 'pages:refused.title', locale: pages.localeOf(request), status: 403 });
        if (body.go === 'switch') {
          const session = await services.sessions.fromCookie(request.cookies[SESSION_COOKIE]);
          if (session) await services.sessions.revoke(session.accountId, session.id);
          reply.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
          return reply.code(303).header('location', `/signin?next=${encodeURIComponent(`/open/${id}`)}`).send();
        }
        return reply.code(303).header('location', `/open/${id}`).send();
      }

      const envelope = await services.envelopes.get(id);
      if (!envelope) return statePage(request, reply, null, 'unknown', 404);
      if (typeof body.payload === 'string' && body.payload.length > 0) {
        // Mail systems and form encoding fold long values: whitespace is not part of base64.
        const bytes = Buffer.from(body.payload.replace(/\s+/g, ''), 'base64');
        const kept = await services.envelopes.keepInlinePayload(id, bytes);
        if (kept === 'mismatch') {
          await services.releases.recordTampered({ envelopeId: id, opener: { session: null, addresses: [] }, mode: body.secret ? 'server' : 'applet', ip: request.ip });
          return statePage(request, reply, envelope, 'tampered', 422);
        }
      } else if (envelope.payload.transport === 'inline' && !envelope.payload.stored) {
        return statePage(request, reply, envelope, 'incomplete', 422);
      }

      // The secret arrives as a field only when the browser decrypts nothing: a server-mode or
      // JS-free envelope, or an applet envelope whose script did not run.
      const secret = typeof body.secret === 'string' && SECRET.test(body.secret) ? body.secret : null;
      const mode: ReleaseMode = secret ? 'server' : 'applet';
      setOpeningCookie(reply, services.openings, id, { mode, secret, openedAt: now(), keepKeyAt: null });
      return reply.code(303).header('location', `/open/${id}`).send();
    },
  );

  app.get('/open/:id', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!ENVELOPE_ID.test(id)) return statePage(request, reply, null, 'unknown', 404);
    const opening = openingOf(request, id);
    const { opener } = await openerOf(request);
    const decision = await services.releases.check(id, opener, opening?.openedAt ?? now());
    if (!decision.ok) return refusal(request, reply, decision, id, opening);
    if (!opening) return statePage(request, reply, decision.envelope, 'no-opening', 400);
    const locale = localeFor(request, decision.envelope);

    if (opening.mode === 'applet') {
      return pages.send(
        request,
        reply,
        appletReaderPage({
          locale,
          summary: summaryOf(decision.envelope),
          keyUrl: `/open/${id}/key`,
          payloadUrl: await payloadUrlOf(decision.envelope),
          offline: offlineOffer(decision.envelope, opening, opener.session),
          startScript: await readerStartScript(),
        }),
      );
    }
    const opened = await decryptForServer(request, reply, id, opening, 'view');
    if ('reply' in opened) return opened.reply;
    const images = (request.query as { images?: string }).images === '1';
    return pages.send(
      request,
      reply,
      await serverReaderPage({ locale, summary: summaryOf(opened.envelope), raw: opened.raw, showRemoteImages: images, basePath: `/open/${id}` }),
    );
  });

  app.post('/open/:id/key', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    reply.header('cache-control', 'no-store');
    const opening = ENVELOPE_ID.test(id) ? openingOf(request, id) : null;
    const envelope = opening ? null : await services.envelopes.get(id);
    if (!opening || opening.mode !== 'applet') {
      return keyProblem(reply, localeFor(request, envelope), 400, 'noOpening');
    }
    const { opener } = await openerOf(request);
    const release = await services.releases.release({ envelopeId: id, opener, openedAt: opening.openedAt, mode: 'applet', ip: request.ip });
    if (!release.ok) {
      const status = { unknown: 404, locked: 403, expired: 410, sign_in: 401, reauth: 401, not_recipient: 403 }[release.reason];
      return keyProblem(reply, localeFor(request, release.envelope), status, release.reason, release.envelope?.lockReason ?? undefined);
    }
    return reply.send({ share: release.serverShare.toString('base64url'), algorithm: release.envelope.algorithm });
  });

  function keyProblem(reply: FastifyReply, locale: Locale, status: number, reason: string, lockReason?: string) {
    const t = opts.pages.translator(locale);
    return reply
      .code(status)
      .type('application/problem+json')
      .send({ type: 'about:blank', status, title: t(`open:key.${reason}.title`), detail: t(`open:key.${reason}.detail`, { reason: lockReason ?? '' }) });
  }

  async function serverDownload(request: FastifyRequest, reply: FastifyReply, id: string) {
    const opening = ENVELOPE_ID.test(id) ? openingOf(request, id) : null;
    if (!opening || opening.mode !== 'server' || !opening.secret) return { reply: statePage(request, reply, null, 'no-opening', 400) };
    return decryptForServer(request, reply, id, opening, 'download');
  }

  app.get('/open/:id/attachments/:n', { schema: { hide: true } }, async (request, reply) => {
    const { id, n } = request.params as { id: string; n: string };
    const opened = await serverDownload(request, reply, id);
    if ('reply' in opened) return opened.reply;
    const part = /^\d{1,4}$/.test(n) ? await serverAttachment(opened.raw, Number(n)) : null;
    if (!part) return statePage(request, reply, opened.envelope, 'no-attachment', 404);
    return download(reply, part.filename, part.bytes);
  });

  app.get('/open/:id/message.eml', { schema: { hide: true } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const opened = await serverDownload(request, reply, id);
    if ('reply' in opened) return opened.reply;
    return download(reply, 'message.eml', opened.raw, 'message/rfc822');
  });
}

/**
 * A file the recipient saves, byte for byte. Served as an attachment, never rendered here: an
 * HTML attachment shown on this origin could run script with the recipient's session.
 */
function download(reply: FastifyReply, filename: string, bytes: Uint8Array, type = 'application/octet-stream') {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return reply
    .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`)
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .type(type)
    .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
