import type { ProfileSettings } from '../domain/profiles/profile-settings.ts';
import { SUPPORTED_LOCALES } from '../i18n/locales.ts';

/**
 * The profile settings form: how each setting is shown (sizes in KB, the queue timeout in
 * minutes) and read back. A number is sent in the patch only when the field was changed, so a
 * value that is not a whole number of the unit shown is never rounded by saving the page.
 */
const CHECKBOXES = ['decryptionApplet', 'readReceipts', 'replyEnabled', 'replyAllEnabled', 'forwardEnabled', 'localizedEnvelope', 'keepSubject'] as const;
const NUMBERS = [
  { name: 'queueTimeoutMinutes', min: 1, max: 14 * 24 * 60, get: (s: ProfileSettings) => s.queueTimeoutSeconds / 60, set: (n: number) => ({ queueTimeoutSeconds: n * 60 }) },
  { name: 'maxMessageKb', min: 1, max: 25 * 1024, get: (s: ProfileSettings) => s.maxMessageBytes / 1024, set: (n: number) => ({ maxMessageBytes: n * 1024 }) },
  { name: 'inlineMaxKb', min: 0, max: 25 * 1024, get: (s: ProfileSettings) => s.payloadTransport.inlineMaxBytes / 1024, set: (n: number) => ({ payloadTransport: { inlineMaxBytes: n * 1024 } }) },
] as const;

/** Each form field's name, for the setting paths a validation problem names. */
export const FIELD_OF_SETTING: Record<string, string> = {
  queueTimeoutSeconds: 'queueTimeoutMinutes',
  maxMessageBytes: 'maxMessageKb',
  'payloadTransport.inlineMaxBytes': 'inlineMaxKb',
  'payloadTransport.separateUrl': 'separateUrl',
  'payloadTransport.referenceScheme': 'referenceScheme',
};

const shown = (n: number) => String(Math.round(n * 1000) / 1000);

export function profileFormView(s: ProfileSettings) {
  const options = (values: readonly string[], selected: string) => values.map((value) => ({ value, selected: value === selected }));
  return {
    securityLevels: options(['high', 'medium', 'none'], s.securityLevel),
    algorithms: options(['aes-256-gcm', 'aes-192-gcm'], s.algorithm),
    schemes: options(['public', 'https', 'http', 'separate-url'], s.payloadTransport.referenceScheme),
    locales: SUPPORTED_LOCALES.map((code) => ({ code, name: new Intl.DisplayNames([code], { type: 'language' }).of(code) ?? code, selected: code === s.defaultLocale })),
    checks: Object.fromEntries(CHECKBOXES.map((c) => [c, s[c]])),
    numbers: Object.fromEntries(NUMBERS.map((n) => [n.name, shown(n.get(s))])),
    envelopeFileName: s.envelopeFileName,
    logoLink: s.logoLink ?? '',
    separateUrl: s.payloadTransport.separateUrl ?? '',
  };
}

export type FormProblem = { field: string; kind: 'number' };

/** The patch a submitted form asks for, or the fields whose numbers are out of range. */
export function profilePatchFromForm(body: Record<string, unknown>, current: ProfileSettings): { patch: Record<string, unknown>; problems: FormProblem[] } {
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string).trim() : '');
  const patch: Record<string, unknown> = {
    securityLevel: text('securityLevel'),
    algorithm: text('algorithm'),
    defaultLocale: text('defaultLocale'),
    envelopeFileName: text('envelopeFileName'),
    logoLink: text('logoLink') || null,
  };
  const transport: Record<string, unknown> = { referenceScheme: text('referenceScheme'), separateUrl: text('separateUrl') || null };
  for (const c of CHECKBOXES) patch[c] = body[c] === 'on';
  const problems: FormProblem[] = [];
  for (const n of NUMBERS) {
    const raw = text(n.name);
    if (raw === shown(n.get(current))) continue;
    const value = Number(raw);
    if (raw === '' || !Number.isInteger(value) || value < n.min || value > n.max) {
      problems.push({ field: n.name, kind: 'number' });
      continue;
    }
    const part = n.set(value) as Record<string, unknown>;
    if ('payloadTransport' in part) Object.assign(transport, part.payloadTransport);
    else Object.assign(patch, part);
  }
  patch.payloadTransport = transport;
  return { patch, problems };
}
