import t from 'tap';
import { payloadUrlFor } from '../src/services.ts';

t.test('where recipients fetch a payload sent by reference', async (t) => {
  const id = 'A'.repeat(22);
  const local = { publicUrl: 'http://localhost:8080', payloadUrl: null };
  t.equal(payloadUrlFor(local, { referenceScheme: 'public', separateUrl: null }, id), `http://localhost:8080/payloads/${id}`, 'the default follows PUBLIC_URL exactly');
  t.equal(payloadUrlFor(local, { referenceScheme: 'https', separateUrl: null }, id), `https://localhost/payloads/${id}`, 'switching scheme drops the other scheme\'s port');
  const tls = { publicUrl: 'https://keys.example.org:8443', payloadUrl: null };
  t.equal(payloadUrlFor(tls, { referenceScheme: 'https', separateUrl: null }, id), `https://keys.example.org:8443/payloads/${id}`, 'same scheme keeps the port');
  t.equal(payloadUrlFor(tls, { referenceScheme: 'http', separateUrl: null }, id), `http://keys.example.org/payloads/${id}`);
  t.equal(payloadUrlFor({ publicUrl: 'https://keys.example.org', payloadUrl: 'https://files.example.org/base' }, { referenceScheme: 'public', separateUrl: null }, id), `https://files.example.org/base/payloads/${id}`, 'PAYLOAD_URL wins over PUBLIC_URL');
  t.equal(payloadUrlFor(tls, { referenceScheme: 'separate-url', separateUrl: 'https://cdn.example.org/env/' }, id), `https://cdn.example.org/env/${id}`);
});
