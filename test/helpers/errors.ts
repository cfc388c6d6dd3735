/** The error a promise rejects with (or a failure marker), for asserting on its fields. */
export async function errorOf(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  return Object.assign(new Error('expected a rejection, but it resolved'), { code: 'resolved' });
}
