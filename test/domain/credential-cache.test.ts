import t from 'tap';
import { engines } from '../helpers/databases.ts';
import { servicesWithGateway } from '../helpers/services.ts';

for (const engine of engines()) {
  t.test(`a revoked credential stops working at once on this node (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const { services, orgId } = await servicesWithGateway(t.teardown.bind(t), opened);
    const init = { orgId };
    for (let round = 0; round < 10; round++) {
      const { token, credential } = await services.credentials.provision(init.orgId, 'P', 'gw@example.test');
      t.ok(await services.credentials.authenticate(token), 'valid before');
      // An authentication in flight while the credential is rotated must not re-cache it.
      await Promise.all([services.credentials.authenticate(token), services.credentials.rotate(init.orgId, credential.id)]);
      t.equal(await services.credentials.authenticate(token), null, `round ${round}: refused right after rotation`);
      const next = await services.credentials.provision(init.orgId, 'P', 'gw@example.test');
      await Promise.all([services.credentials.authenticate(next.token), services.credentials.revoke(init.orgId, next.credential.id)]);
      t.equal(await services.credentials.authenticate(next.token), null, `round ${round}: refused right after revocation`);
    }
  });
}
