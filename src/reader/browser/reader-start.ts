// Bundled to /assets/reader-start.js, the reader page's first script. It runs from the top of
// the page's head, before the style sheet and the first layout, and starts the opening
// (start-opening.ts: the key request, the decrypting worker, the ciphertext download), so all of that
// runs while /assets/reader.js is still loading. Its own data-* attributes say where to go.
import { startOpening, STARTED_OPENING } from './start-opening.ts';

const data = document.currentScript?.dataset;
const slot = window as unknown as Record<string, unknown>;
if (data && slot[STARTED_OPENING] === undefined) slot[STARTED_OPENING] = startOpening(data);
