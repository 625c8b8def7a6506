/**
 * Write-ahead log record kinds: the first character of each record line says what follows.
 * R: one reading as line protocol. D: one dead letter as JSON. Each record ends with a newline.
 */
export const RECORD_READING = 'R'.charCodeAt(0)
export const RECORD_DEAD_LETTER = 'D'.charCodeAt(0)
export const RECORD_END = '\n'.charCodeAt(0)
