// SPDX-License-Identifier: Apache-2.0
// nodemailer 6 with its default options logs in by name (issue 22): only
// host, port and auth, no `tls` option; Node's own trust store decides, so
// the stand's pebble root reaches it as an operator adds a private CA:
// NODE_EXTRA_CA_CERTS.  The name resolves through the system resolver (run it
// under `stand.sh with-dns`).  Port 465 is implicit TLS by nodemailer's own
// default for that port, 587 STARTTLS.
// Usage: NODE_PATH=<dir>/node_modules node nodemailer-login.js HOST USER PASS PORT...
'use strict';
const nodemailer = require('nodemailer');

async function login(host, port, user, pass) {
  const transport = nodemailer.createTransport({ host, port, auth: { user, pass } });
  try {
    await transport.verify();
    console.log(`nodemailer: ${host}:${port} verified and logged in`);
    return true;
  } catch (err) {
    console.log(`nodemailer: ${host}:${port} failed: ${err.message}`);
    return false;
  } finally {
    transport.close();
  }
}

async function main() {
  const [host, user, pass, ...ports] = process.argv.slice(2);
  if (!host || !user || !pass || ports.length === 0) {
    console.error('usage: nodemailer-login.js HOST USER PASS PORT...');
    process.exit(2);
  }
  console.log(`nodemailer ${require('nodemailer/package.json').version}, default options`);
  let ok = true;
  for (const port of ports) ok = (await login(host, Number(port), user, pass)) && ok;
  process.exit(ok ? 0 : 1);
}

main();
