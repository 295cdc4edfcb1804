// uni's storage is localStorage in the browser and wx storage in the mini-program; a full or refused store
// (a private window) must never break a page.
export function load(key, fallback = null) {
  try {
    const value = uni.getStorageSync(key)
    return value === '' || value === undefined || value === null ? fallback : value
  } catch (e) {
    return fallback
  }
}

export function save(key, value) {
  try {
    if (value === null || value === undefined) uni.removeStorageSync(key)
    else uni.setStorageSync(key, value)
  } catch (e) { /* the session lives in memory then */ }
}

export function randomId(prefix, length = 24) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnpqrstuvwxyz'
  let out = prefix
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)]
  return out
}

let device = null
// A stable id for this browser or phone ([0-9A-Za-z_.:-], 1-64): the API's X-Device-Id (abuse limits per device,
// behaviour events before a login).
export function deviceId() {
  if (!device) {
    device = load('mall.device')
    if (!device || !/^[0-9A-Za-z_.:-]{1,64}$/.test(device)) {
      device = randomId('d-')
      save('mall.device', device)
    }
  }
  return device
}
