/**
 * A throwaway PKI made with openssl at test time, in a fresh tmp folder that
 * is removed when the tests end: a CA, a server certificate for the names
 * the egress tests use, and a client certificate for mTLS. No key is ever
 * committed.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A name the test proxy resolves to 127.0.0.1; the sidecar itself cannot resolve it (RFC 2606 reserves .example). */
export const VENDOR_HOST = 'vendor.example'

export interface Pki {
  /** The CA certificate: what `tls.ca` must trust. */
  readonly ca: string
  /** The same, as a file (for NODE_EXTRA_CA_CERTS). */
  readonly caFile: string
  /** Server certificate (for VENDOR_HOST, localhost and 127.0.0.1) and its key. */
  readonly serverCert: string
  readonly serverKey: string
  /** Client certificate for mTLS, signed by the same CA, and its key. */
  readonly clientCert: string
  readonly clientKey: string
  /** A second, unrelated CA: trusting it must not be enough. */
  readonly otherCa: string
  /** Removes the folder (keys included). */
  remove (): void
}

const OPENSSL = process.env.OPENSSL ?? '/usr/bin/openssl'

export function createPki (): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pki-'))
  const file = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): void => { execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }) }
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

  const makeCa = (name: string): void => {
    writeFileSync(file(`${name}.ext`), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n')
    openssl('req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=tollgate test ${name}`)
    openssl('x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`)
  }
  const makeLeaf = (name: string, extensions: string): void => {
    writeFileSync(file(`${name}.ext`), `basicConstraints=CA:FALSE\n${extensions}\n`)
    openssl('req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`)
  }

  makeCa('ca')
  makeCa('other-ca')
  makeLeaf('server', `extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${VENDOR_HOST},DNS:localhost,IP:127.0.0.1`)
  makeLeaf('client', 'extendedKeyUsage=clientAuth')
  const read = (name: string): string => readFileSync(file(name), 'utf8')
  return {
    ca: read('ca.pem'),
    caFile: file('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.pem'),
    remove: () => { rmSync(dir, { recursive: true, force: true }) }
  }
}
