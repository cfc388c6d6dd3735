import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import Compile from 'typebox/compile';
import { SUPPORTED_LOCALES, type Locale } from '../../i18n/locales.ts';

/**
 * Every setting of an encryption profile, as the gateway guide's profile page has them.
 * Stored as one jsonb document per profile, validated here on the way in and on the way out.
 */
export const LocaleSchema = Type.Unsafe<Locale>({ type: 'string', enum: [...SUPPORTED_LOCALES] });
const HttpUrl = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 });
const TemplateText = Type.String({ maxLength: 100_000 });

export const ProfileSettingsSchema = Type.Object(
  {
    securityLevel: Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('none')], {
      description: 'high: passphrase at every opening; medium: a remembered session suffices; none: no account needed to read',
    }),
    logo: Type.Union(
      [
        Type.Object(
          {
            mediaType: Type.Union([Type.Literal('image/png'), Type.Literal('image/jpeg'), Type.Literal('image/gif')]),
            dataBase64: Type.String({ maxLength: 400_000, pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'Logo shown in securedoc.html, inlined as a data: URI (at most ~300 KB).' },
    ),
    logoLink: Type.Union([HttpUrl, Type.Null()]),
    readReceipts: Type.Boolean({ description: 'Ask for a read receipt to the sender at the first opening.' }),
    queueTimeoutSeconds: Type.Integer({ minimum: 60, maximum: 14 * 24 * 3600 }),
    algorithm: Type.Union([Type.Literal('aes-256-gcm'), Type.Literal('aes-192-gcm')]),
    decryptionApplet: Type.Boolean({ description: 'Decrypt in the recipient\'s browser (true) or on the key service (false).' }),
    replyEnabled: Type.Boolean(),
    replyAllEnabled: Type.Boolean(),
    forwardEnabled: Type.Boolean(),
    localizedEnvelope: Type.Boolean({ description: 'Render envelopes in the recipient\'s language when known.' }),
    defaultLocale: LocaleSchema,
    templates: Type.Object(
      {
        html: Type.Union([TemplateText, Type.Null()]),
        text: Type.Union([TemplateText, Type.Null()]),
        failure: Type.Union([TemplateText, Type.Null()]),
        failureSubject: Type.String({ minLength: 1, maxLength: 500 }),
      },
      { additionalProperties: false },
    ),
    subjectTemplate: Type.String({ minLength: 1, maxLength: 500, description: 'Handlebars; {{subject}} is the original subject.' }),
    keepSubject: Type.Boolean({ description: 'Store the subject with the key service (shown to senders). Off keeps it only in the encrypted message.' }),
    payloadTransport: Type.Object(
      {
        inlineMaxBytes: Type.Integer({ minimum: 0, maximum: 25 * 1024 * 1024 }),
        referenceScheme: Type.Union([Type.Literal('public'), Type.Literal('https'), Type.Literal('http'), Type.Literal('separate-url')], {
          description:
            "public: the key service's PAYLOAD_URL (or PUBLIC_URL) as it is; https/http: that host with this scheme on its standard port; separate-url: <separateUrl>/<envelope id>",
        }),
        separateUrl: Type.Union([HttpUrl, Type.Null()]),
      },
      { additionalProperties: false },
    ),
    envelopeFileName: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._-]+\\.html?$' }),
    maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 25 * 1024 * 1024 }),
  },
  { additionalProperties: false },
);

export type ProfileSettings = Static<typeof ProfileSettingsSchema>;

export const DEFAULT_PROFILE_SETTINGS: ProfileSettings = {
  securityLevel: 'high',
  logo: null,
  logoLink: null,
  readReceipts: true,
  queueTimeoutSeconds: 24 * 3600,
  algorithm: 'aes-256-gcm',
  decryptionApplet: true,
  replyEnabled: true,
  replyAllEnabled: false,
  forwardEnabled: false,
  localizedEnvelope: true,
  defaultLocale: 'en',
  templates: { html: null, text: null, failure: null, failureSubject: '[Encryption failure] {{subject}}' },
  subjectTemplate: '{{subject}}',
  keepSubject: true,
  payloadTransport: { inlineMaxBytes: 2 * 1024 * 1024, referenceScheme: 'public', separateUrl: null },
  envelopeFileName: 'securedoc.html',
  maxMessageBytes: 25 * 1024 * 1024,
};

export class ProfileSettingsError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid profile settings: ${problems.join('; ')}`);
    this.name = 'ProfileSettingsError';
    this.problems = problems;
  }
}

/** Merges a partial update (one level deep for nested objects) onto `base` and validates the result. */
export function mergeProfileSettings(base: ProfileSettings, patch: unknown): ProfileSettings {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new ProfileSettingsError(['settings must be an object']);
  }
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = merged[key];
    merged[key] =
      current && typeof current === 'object' && value && typeof value === 'object' && !Array.isArray(value)
        ? { ...current, ...value }
        : value;
  }
  return validateProfileSettings(merged);
}

// Compiled once: settings are checked on every gateway request, and the interpreted check
// showed up in upload profiles. The validator is a pure function, not shared state.
const settingsValidator = Compile(ProfileSettingsSchema);

export function validateProfileSettings(value: unknown): ProfileSettings {
  if (settingsValidator.Check(value)) {
    const s = value as ProfileSettings;
    if (s.payloadTransport.referenceScheme === 'separate-url' && !s.payloadTransport.separateUrl) {
      throw new ProfileSettingsError(['payloadTransport.separateUrl is required when referenceScheme is separate-url']);
    }
    if (s.logo && Buffer.from(s.logo.dataBase64, 'base64').length === 0) {
      throw new ProfileSettingsError(['logo.dataBase64 is empty']);
    }
    return s;
  }
  const problems = Value.Errors(ProfileSettingsSchema, value)
    .slice(0, 10)
    .map((e) => `${e.instancePath || '(settings)'}: ${e.message}`);
  throw new ProfileSettingsError(problems);
}
