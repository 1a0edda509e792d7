/**
 * One set of Node.js releases everywhere: .ci/run's NODE_PINS (what CI
 * installs and tests on), package.json `engines` (each supported line from
 * its tested release up) and the Dockerfile's NODE_IMAGE (the release the
 * image ships, which CI runs the full suite on and the footprint bench
 * measures). A change to one without the others fails here.
 */
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { imageNodeVersion } from '../../bench/footprint-image.js'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

/** The supported lines, as issue 18 set them. */
const LINES = [22, 24, 26]

interface Files { readonly ciRun: string, readonly packageJson: string, readonly dockerfile: string }

/** Every disagreement between the three files, in words; none when they agree. */
function pinProblems ({ ciRun, packageJson, dockerfile }: Files): string[] {
  const problems: string[] = []
  const pins = /^NODE_PINS=\(([^)]*)\)$/m.exec(ciRun)?.[1]?.trim().split(/\s+/) ?? []
  const full = /^FULL_SUITE=(\S+)$/m.exec(ciRun)?.[1]
  if (pins.length === 0) problems.push('.ci/run: no NODE_PINS=(...)')
  for (const pin of pins) if (!/^\d+\.\d+\.\d+$/.test(pin)) problems.push(`.ci/run: ${pin} is not an exact release`)
  const majors = pins.map((pin) => Number(pin.split('.')[0]))
  if (majors.join() !== LINES.join()) problems.push(`.ci/run pins the lines ${majors.join(', ')}, not ${LINES.join(', ')}`)
  const engines = (JSON.parse(packageJson) as { engines?: { node?: string } }).engines?.node
  const expected = pins.map((pin) => `^${pin}`).join(' || ')
  if (engines !== expected) problems.push(`package.json engines.node is ${JSON.stringify(engines)}, not ${JSON.stringify(expected)}`)
  let image: string | undefined
  try {
    image = imageNodeVersion(dockerfile)
  } catch (err) {
    problems.push((err as Error).message)
  }
  if (image !== undefined && !pins.includes(image)) problems.push(`Dockerfile NODE_IMAGE ships ${image}, which .ci/run does not test`)
  if (image !== undefined && !image.startsWith('24.')) problems.push(`Dockerfile NODE_IMAGE ships ${image}, not a 24.x (Node.js 24 LTS)`)
  if (image !== undefined && full !== image) problems.push(`.ci/run runs the full suite on ${full ?? 'nothing'}, not on the image's ${image}`)
  return problems
}

const real: Files = { ciRun: read('.ci/run'), packageJson: read('package.json'), dockerfile: read('Dockerfile') }

test('.ci/run, package.json engines and the Dockerfile name the same releases', (t: TestContext) => {
  t.assert.deepStrictEqual(pinProblems(real), [])
})

test('each kind of disagreement is caught', (t: TestContext) => {
  const image = imageNodeVersion(real.dockerfile)
  const bumped = image.replace(/\.(\d+)$/, (_, patch: string) => `.${Number(patch) + 1}`)
  const engines = (JSON.parse(real.packageJson) as { engines: { node: string } }).engines.node
  const cases: Array<[string, Files, RegExp]> = [
    ['the image moved alone', { ...real, dockerfile: real.dockerfile.replace(`node:${image}-`, `node:${bumped}-`) }, /Dockerfile NODE_IMAGE ships .* which \.ci\/run does not test/],
    ['a CI pin moved alone', { ...real, ciRun: real.ciRun.replace('NODE_PINS=(', 'NODE_PINS=(22.0.1 ').replace(/ 22\.\d+\.\d+/, '') }, /engines\.node is/],
    ['engines moved alone', { ...real, packageJson: real.packageJson.replace(engines, '>=20.15') }, /engines\.node is ">=20\.15"/],
    ['a line dropped', { ...real, ciRun: real.ciRun.replace(/ 26\.\d+\.\d+/, '') }, /pins the lines 22, 24, not 22, 24, 26/],
    ['the full suite on another line', { ...real, ciRun: real.ciRun.replace(/^FULL_SUITE=\S+$/m, 'FULL_SUITE=22.0.0') }, /runs the full suite on 22\.0\.0/]
  ]
  for (const [what, files, problem] of cases) {
    t.assert.ok(pinProblems(files).some((p) => problem.test(p)), `${what}: ${JSON.stringify(pinProblems(files))}`)
  }
})
