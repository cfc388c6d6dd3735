import type { FastifyReply, FastifyRequest } from 'fastify';
import { OPENING_LIFETIME_SECONDS, openingCookieName, type Opening, type OpeningSealer } from '../domain/releases/opening-seal.ts';

/** The live opening of this envelope in this browser, or null (absent, forged, expired). */
export function openingOf(request: FastifyRequest, openings: OpeningSealer, envelopeId: string, now: Date): Opening | null {
  return openings.unseal(envelopeId, request.cookies[openingCookieName(envelopeId)], now);
}

/** Stores the opening in its sealed cookie; Lax, so the top-level POST from the file keeps it. */
export function setOpeningCookie(reply: FastifyReply, openings: OpeningSealer, envelopeId: string, opening: Opening): void {
  reply.setCookie(openingCookieName(envelopeId), openings.seal(envelopeId, opening), {
    path: '/',
    secure: true,
    httpOnly: true,
    sameSite: 'lax',
    maxAge: OPENING_LIFETIME_SECONDS,
  });
}
