// Bundled to /assets/reader-start.js, the reader page's first script: it starts the key and
// ciphertext requests at once, so they run while /assets/reader.js (crypto, MIME parser,
// sanitiser) is still loading; reader.ts picks them up.
import { hasSecret, startRequests, STARTED_REQUESTS } from './requests.ts';

const reader = document.getElementById('reader');
// Only with the secret at hand: without it the key would be released (and recorded) for nothing.
if (reader && hasSecret(reader.dataset['envelopeId'] ?? '')) {
  (window as unknown as Record<string, unknown>)[STARTED_REQUESTS] = startRequests(reader);
}
