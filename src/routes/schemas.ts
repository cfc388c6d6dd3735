import Type from 'typebox';
import { LocaleSchema, ProfileSettingsSchema } from '../domain/profiles/profile-settings.ts';

/** Shared request and response schemas; they also make up the OpenAPI document. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    errors: Type.Optional(Type.Array(Type.String())),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

export const problemRef = Type.Ref('Problem');

export const ProfileSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  settings: ProfileSettingsSchema,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const CredentialSchema = Type.Object({
  id: Type.String(),
  adminEmail: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const IssuedCredentialSchema = Type.Object({
  credential: CredentialSchema,
  token: Type.String({ description: 'Shown once. Give it to the gateway as WAXSEAL_CREDENTIAL.' }),
});

const Address = Type.String({ minLength: 3, maxLength: 320 });
const Base64Url = (n: number, description: string) => Type.String({ pattern: `^[A-Za-z0-9_-]{${n}}$`, description });

export const EnvelopeIdParams = Type.Object({ id: Base64Url(22, 'Envelope id: 16 random bytes chosen by the gateway, base64url') });

export const EnvelopeUploadSchema = Type.Object(
  {
    serverShare: Base64Url(43, 'The server half of the split key: 32 bytes, base64url. Stored only wrapped.'),
    sender: Address,
    recipients: Type.Object(
      {
        to: Type.Array(Address, { maxItems: 1000 }),
        cc: Type.Array(Address, { maxItems: 1000 }),
        bcc: Type.Array(Address, { maxItems: 1000 }),
      },
      { additionalProperties: false },
    ),
    subject: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
    securityLevel: Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('none')]),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    readBy: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    flags: Type.Object(
      {
        replyEnabled: Type.Boolean(),
        replyAllEnabled: Type.Boolean(),
        forwardEnabled: Type.Boolean(),
        sendReturnReceipt: Type.Boolean(),
        suppressAppletForOpen: Type.Boolean(),
        useScript: Type.Boolean(),
        rememberEnvelopeKeyCheckbox: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    locale: LocaleSchema,
    algorithm: Type.Union([Type.Literal('aes-256-gcm'), Type.Literal('aes-192-gcm')]),
    payload: Type.Object(
      {
        transport: Type.Union([Type.Literal('inline'), Type.Literal('reference')]),
        digest: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the whole envelope ciphertext, hex' }),
        size: Type.Integer({ minimum: 42, maximum: 64 * 1024 * 1024 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const EnvelopeStoredSchema = Type.Object({
  id: Type.String(),
  created: Type.Boolean(),
  payloadPending: Type.Boolean(),
  payloadUrl: Type.Union([Type.String(), Type.Null()]),
});
