import { readdirSync } from 'node:fs'
import { summariseProfile, formatAreaComparison, formatFunctionDiff } from './bench/cpuprofile.js'
const [bareReq, tgReq] = process.argv.slice(2).map(Number)
const file = (d: string): string => `${d}/${readdirSync(d).find((f) => f.endsWith('.cpuprofile'))}`
const bare = { target: 'bare', requests: bareReq as number, summary: summariseProfile(file('/tmp/b/prof-bare'), process.cwd()) }
const tg = { target: 'tollgate', requests: tgReq as number, summary: summariseProfile(file('/tmp/b/prof-tg'), process.cwd()) }
console.log(formatAreaComparison([bare, tg], 25))
console.log(formatFunctionDiff(bare, tg, 60))
