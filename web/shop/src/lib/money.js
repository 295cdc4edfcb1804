// Money is integer fen everywhere in the API; the screen shows yuan with two decimals, computed without floats.
export function yuan(fen) {
  const value = Number(fen) || 0
  const sign = value < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(value))
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}
