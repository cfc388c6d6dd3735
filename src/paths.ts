import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Where the package's own files are. Kept apart from runtime.ts so the sealing path does not
// load the database stack just to find its templates.
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');
export const VIEWS_DIR = path.join(PROJECT_ROOT, 'views');
export const LOCALES_DIR = path.join(PROJECT_ROOT, 'locales');
export const PUBLIC_DIR = path.join(PROJECT_ROOT, 'public');
