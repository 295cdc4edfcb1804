import { API_BASE } from './config'
import { session, signOut } from './session'
import { deviceId } from './storage'
import { loginPage } from './nav'

// The server's clock, learnt from every answer's Date header: countdowns (a group's deadline, a flash sale's
// window) count against it, never against the phone's own clock, which may be minutes off.
let clockOffset = 0
let clockKnown = false

export function serverNow() {
  return Date.now() + clockOffset
}

export function serverClockKnown() {
  return clockKnown
}

function noteServerDate(headers, sentAt) {
  const raw = headers && (headers.Date || headers.date)
  const server = raw ? Date.parse(raw) : NaN
  if (Number.isNaN(server)) return
  // Date has whole seconds: the server's moment lies in [server, server + 1000), taken at mid-flight.
  const midFlight = (sentAt + Date.now()) / 2
  clockOffset = server + 500 - midFlight
  clockKnown = true
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message)
    this.status = status
    this.code = code
    this.details = details || null
  }
}

function toError(response) {
  const body = response.data
  const error = body && typeof body === 'object' ? body.error : null
  if (error && error.code) return new ApiError(response.statusCode, error.code, error.message, error.details)
  return new ApiError(response.statusCode, `HTTP_${response.statusCode}`, `服务器返回 ${response.statusCode}`)
}

export function query(params) {
  const parts = Object.entries(params || {})
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

// One call to the mall: resolves with the JSON body of a 2xx, rejects with an ApiError (the API's
// {"error": {"code", "message"}}, or NETWORK). A 401 on a signed-in call ends the session and opens the login.
export function request(method, path, body, { headers = {}, auth = true } = {}) {
  return new Promise((resolve, reject) => {
    const sentAt = Date.now()
    const header = { 'X-Device-Id': deviceId(), ...headers }
    if (body !== undefined) header['Content-Type'] = 'application/json'
    const token = auth ? session.token : null
    if (token) header.Authorization = `Bearer ${token}`
    uni.request({
      url: API_BASE + path,
      method,
      data: body === undefined ? undefined : JSON.stringify(body),
      header,
      dataType: 'json',
      success(response) {
        noteServerDate(response.header, sentAt)
        if (response.statusCode >= 200 && response.statusCode < 300) {
          resolve(response.data)
          return
        }
        const error = toError(response)
        if (response.statusCode === 401 && token) {
          signOut()
          loginPage()
        }
        reject(error)
      },
      fail() {
        reject(new ApiError(0, 'NETWORK', '网络连接失败'))
      },
    })
  })
}

export const get = (path, options) => request('GET', path, undefined, options)
export const post = (path, body = {}, options) => request('POST', path, body, options)
export const put = (path, body = {}, options) => request('PUT', path, body, options)
export const del = (path, options) => request('DELETE', path, undefined, options)
