import t from 'tap';
import { runCli } from '../../src/cli/main.ts';
import { engines } from '../helpers/databases.ts';
import { listenKeyService } from '../helpers/key-service.ts';
import { captureIo } from '../helpers/cli-io.ts';

// Command output as text: every command here prints lines.
function io(env: Record<string, string>) {
  const captured = captureIo(env);
  return { ...captured, out: () => captured.out().toString('utf8') };
}

for (const engine of engines()) {
  t.test(`users, roles and organisation commands on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await listenKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const env = { WAXSEAL_URL: ks.url, WAXSEAL_ADMIN_TOKEN: ks.adminToken };
    const by = { orgId: ks.orgId, email: 'admin@example.test', role: 'admin' as const, profileIds: null };
    const run = async (argv: string[]) => {
      const r = io(env);
      return { code: await runCli(argv, r.io), out: r.out(), err: r.err() };
    };
    const users = () => ks.services.staff.listUsers(by);
    const roles = () => ks.services.staff.listRoles(by);
    await ks.services.profiles.create(ks.orgId, 'Retail', {});
    await ks.services.profiles.create(ks.orgId, 'Wealth', {});

    await t.test('org set and show', async (t) => {
      const set = await run(['org', 'set', '--name', 'Example Bank', '--locale', 'de']);
      t.equal(set.code, 0, set.err);
      t.equal(set.out, 'name\tExample Bank\nlocale\tde\n', 'prints the settings as saved');
      t.match(await ks.services.staff.organisation(ks.orgId), { name: 'Example Bank', defaultLocale: 'de' }, 'saved by the key service');
      const show = await run(['org', 'show']);
      t.equal(show.code, 0, show.err);
      t.equal(show.out, 'name\tExample Bank\nlocale\tde\n');
      const nameOnly = await run(['org', 'set', '--name', 'Example Bank AG']);
      t.equal(nameOnly.code, 0, nameOnly.err);
      t.match(await ks.services.staff.organisation(ks.orgId), { name: 'Example Bank AG', defaultLocale: 'de' }, 'a setting not given is kept');
      const badLocale = await run(['org', 'set', '--locale', 'xx']);
      t.equal(badLocale.code, 1);
      t.match(badLocale.err, /waxseal: that language is not one of the envelope languages/);
      t.equal((await ks.services.staff.organisation(ks.orgId)).defaultLocale, 'de', 'unchanged');
    });

    await t.test('roles create, list, set', async (t) => {
      const create = await run(['roles', 'create', 'Tellers', '--profile', 'Retail']);
      t.equal(create.code, 0, create.err);
      const [role, ...others] = await roles();
      t.equal(others.length, 0);
      t.match(role, { name: 'Tellers', profileNames: ['Retail'], userCount: 0 }, 'created by the key service');
      t.equal(create.out, `${role!.id}\tTellers\tRetail\t0\n`);
      const list = await run(['roles', 'list']);
      t.equal(list.code, 0, list.err);
      t.equal(list.out, `${role!.id}\tTellers\tRetail\t0\n`, 'id, name, profiles, users');

      const badProfile = await run(['roles', 'create', 'Brokers', '--profile', 'Nope']);
      t.equal(badProfile.code, 1);
      t.match(badProfile.err, /there is no profile named "Nope"/);
      t.equal((await roles()).length, 1, 'no role created');

      const both = await run(['roles', 'set', 'Tellers', '--profile', 'Retail', '--profile', 'Wealth']);
      t.equal(both.code, 0, both.err);
      t.same([...(await roles())[0]!.profileNames].sort(), ['Retail', 'Wealth']);
      const rename = await run(['roles', 'set', role!.id, '--name', 'Clerks']);
      t.equal(rename.code, 0, rename.err);
      const renamed = (await roles())[0]!;
      t.equal(renamed.name, 'Clerks', 'found by id, renamed');
      t.same([...renamed.profileNames].sort(), ['Retail', 'Wealth'], 'profiles not given are kept');
      t.match(rename.out, new RegExp(`^${role!.id}\\tClerks\\t(Retail,Wealth|Wealth,Retail)\\t0\\n$`));
      const unknown = await run(['roles', 'set', 'Tellers', '--name', 'X']);
      t.equal(unknown.code, 1);
      t.match(unknown.err, /waxseal: there is no role "Tellers"/);
    });

    await t.test('users invite, list, role, remove', async (t) => {
      const invite = await run(['users', 'invite', 'dee@example.test', '--role', 'Clerks', '--locale', 'fr']);
      t.equal(invite.code, 0, invite.err);
      const dee = (await users()).find((u) => u.email === 'dee@example.test');
      t.match(dee, { roleName: 'Clerks', role: 'delegated', firstSeenAt: null }, 'invited by the key service');
      t.equal(invite.out, `${dee!.id}\tdee@example.test\tClerks\tinvited\n`);
      t.ok((await ks.services.mail.listOutbox(100)).some((m) => m.to.includes('dee@example.test')), 'the invitation was mailed');
      const list = await run(['users', 'list']);
      t.equal(list.code, 0, list.err);
      t.match(list.out, /\tadmin@example\.test\tadmin\t(invited|active)\n/);
      t.ok(list.out.split('\n').includes(`${dee!.id}\tdee@example.test\tClerks\tinvited`), 'id, email, role, invited');

      const wrongRole = await run(['users', 'invite', 'eve@example.test', '--role', 'Nope']);
      t.not(wrongRole.code, 0);
      t.match(wrongRole.err, /there is no role named "Nope"/);
      t.notOk((await users()).some((u) => u.email === 'eve@example.test'), 'nobody invited');
      const wrongChange = await run(['users', 'role', 'dee@example.test', '--role', 'Nope']);
      t.not(wrongChange.code, 0);
      t.match(wrongChange.err, /there is no role named "Nope"/);
      t.equal((await users()).find((u) => u.id === dee!.id)?.roleName, 'Clerks', 'role unchanged');
      const inUse = await run(['roles', 'delete', 'Clerks']);
      t.equal(inUse.code, 1);
      t.match(inUse.err, /the role is still given to dee@example\.test/);
      t.equal((await roles()).length, 1, 'the role stays');

      const promote = await run(['users', 'role', 'DEE@Example.test', '--role', 'admin']);
      t.equal(promote.code, 0, promote.err);
      t.match((await users()).find((u) => u.id === dee!.id), { role: 'admin', roleId: null }, 'found by email in any case; now an administrator');
      t.equal(promote.out, `${dee!.id}\tdee@example.test\tadmin\tinvited\n`);

      const remove = await run(['users', 'remove', 'dee@example.test']);
      t.equal(remove.code, 0, remove.err);
      t.equal(remove.out, 'removed dee@example.test\n');
      t.same((await users()).map((u) => u.email), ['admin@example.test'], 'removed by the key service');
      const again = await run(['users', 'remove', 'dee@example.test']);
      t.equal(again.code, 1);
      t.match(again.err, /waxseal: there is no console user "dee@example\.test"/);
      const last = await run(['users', 'remove', 'admin@example.test']);
      t.equal(last.code, 1);
      t.match(last.err, /last administrator/);
      t.equal((await users()).length, 1, 'the last administrator stays');
    });

    await t.test('roles delete', async (t) => {
      const del = await run(['roles', 'delete', 'Clerks']);
      t.equal(del.code, 0, del.err);
      t.equal(del.out, 'deleted role Clerks\n');
      t.same(await roles(), [], 'deleted by the key service');
      const list = await run(['roles', 'list']);
      t.equal(list.out, '');
    });

    await t.test('usage mistakes exit 2 before reaching the key service', async (t) => {
      const before = { users: (await users()).length, roles: (await roles()).length, org: await ks.services.staff.organisation(ks.orgId) };
      const mistakes = [
        ['users'],
        ['users', 'invite', 'x@example.test'],
        ['users', 'invite', '--role', 'admin'],
        ['users', 'role', 'x@example.test'],
        ['users', 'remove'],
        ['users', 'remove', 'a@example.test', 'b@example.test'],
        ['users', 'list', '--frobnicate'],
        ['roles', 'create', 'Brokers'],
        ['roles', 'create', '--profile', 'Retail'],
        ['roles', 'set', 'Brokers'],
        ['roles', 'delete'],
        ['roles', 'bogus'],
        ['org'],
        ['org', 'set'],
        ['org', 'show', 'extra'],
      ];
      for (const argv of mistakes) {
        // No token: a usage slip must be reported as one, not as missing configuration.
        const r = io({ WAXSEAL_URL: ks.url });
        t.equal(await runCli(argv, r.io), 2, argv.join(' '));
        t.match(r.err(), /^waxseal: /, `${argv.join(' ')}: says what is wrong`);
      }
      const missingRole = io(env);
      await runCli(['users', 'invite', 'x@example.test'], missingRole.io);
      t.match(missingRole.err(), /--role is needed\nusage:\n {2}waxseal users list/, 'names the problem, then the usage');
      t.same({ users: (await users()).length, roles: (await roles()).length, org: await ks.services.staff.organisation(ks.orgId) }, before, 'nothing changed');
      for (const command of ['users', 'roles', 'org']) {
        const h = io({});
        t.equal(await runCli([command, '--help'], h.io), 0);
        t.match(h.out(), new RegExp(`^usage:\\n {2}waxseal ${command} `));
      }
      const top = io({});
      await runCli(['help'], top.io);
      t.match(top.out(), /waxseal users list\|invite\|role\|remove .*\n.*waxseal roles list\|create\|set\|delete .*\n.*waxseal org show\|set /);
    });
  });
}
