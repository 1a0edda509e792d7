/**
 * How late a timer-driven event may be and still count as "on time" in a
 * test. The limiter is never allowed to be early (those checks have no
 * slack); lateness comes from the machine: CI runs two test files at once on
 * two shared cores, and an event loop there can stall for tens of ms.
 */
export const LATE_SLACK_MS = 90
