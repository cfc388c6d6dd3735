import type { Locale } from '../../i18n/locales.ts';

export interface EnvelopeFlags {
  replyEnabled: boolean;
  replyAllEnabled: boolean;
  forwardEnabled: boolean;
  sendReturnReceipt: boolean;
  suppressAppletForOpen: boolean;
  useScript: boolean;
  rememberEnvelopeKeyCheckbox: boolean;
}

/** What a gateway uploads for one envelope (the JSON body of PUT /api/v1/envelopes/:id). */
export interface EnvelopeUpload {
  serverShare: string;
  sender: string;
  recipients: { to: string[]; cc: string[]; bcc: string[] };
  subject: string | null;
  securityLevel: 'high' | 'medium' | 'none';
  expiresAt: string | null;
  readBy: string | null;
  flags: EnvelopeFlags;
  locale: Locale;
  algorithm: 'aes-256-gcm' | 'aes-192-gcm';
  payload: { transport: 'inline' | 'reference'; digest: string; size: number };
}

export interface EnvelopeRecord {
  id: string;
  orgId: string;
  profileId: string;
  sender: string;
  subject: string | null;
  securityLevel: 'high' | 'medium' | 'none';
  locale: string;
  algorithm: 'aes-256-gcm' | 'aes-192-gcm';
  flags: EnvelopeFlags;
  expiresAt: Date | null;
  readBy: Date | null;
  payload: { transport: 'inline' | 'reference'; digest: string; size: number; stored: boolean };
  recipients: { to: string[]; cc: string[]; bcc: string[] };
  lockedAt: Date | null;
  lockReason: string | null;
  createdAt: Date;
}
