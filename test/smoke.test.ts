import t from 'tap';
t.equal(typeof process.versions.node, 'string');
