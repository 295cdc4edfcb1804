import { reactive } from 'vue'
import { load, save } from './storage'

// The buyer's token and profile, kept across reloads. The token is the mall's own JWT (7 days); a 401 clears it.
// `via`: the web login the buyer signed in with here ('wechat' or 'alipay'), null for any other login: WeChat
// Pay in WeChat's browser pays by the official-account identity only a WeChat web login gives.
export const session = reactive({
  token: load('mall.token'),
  user: load('mall.user'),
  via: load('mall.via'),
})

export function signIn(token, user, via = null) {
  session.token = token
  session.user = user
  session.via = via
  save('mall.token', token)
  save('mall.user', user)
  save('mall.via', via)
}

export function signOut() {
  session.token = null
  session.user = null
  session.via = null
  save('mall.token', null)
  save('mall.user', null)
  save('mall.via', null)
}

export function signedIn() {
  return Boolean(session.token)
}
