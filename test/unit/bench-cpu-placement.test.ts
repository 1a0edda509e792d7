import assert from 'node:assert/strict'
import { test } from 'node:test'
import { allowedCpus } from '../../bench/cpu-placement.js'

test('allowedCpus expands the kernel\'s CPU list: single CPUs, ranges, both', () => {
  assert.deepEqual(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-1\n'), [0, 1])
  assert.deepEqual(allowedCpus('Cpus_allowed_list:\t3\n'), [3])
  assert.deepEqual(allowedCpus('Cpus_allowed_list:\t0,2-4,7\nMems_allowed_list:\t0\n'), [0, 2, 3, 4, 7])
})

test('allowedCpus is empty when the status holds no CPU list (not Linux, say)', () => {
  assert.deepEqual(allowedCpus('Name:\tnode\n'), [])
})
