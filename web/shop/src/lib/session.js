import { reactive } from 'vue'
import { load, save } from './storage'

// The buyer's token and profile, kept across reloads. The token is the mall's own JWT (7 days); a 401 clears it.
export const session = reactive({
  token: load('mall.token'),
  user: load('mall.user'),
})

export function signIn(token, user) {
  session.token = token
  session.user = user
  save('mall.token', token)
  save('mall.user', user)
}

export function signOut() {
  session.token = null
  session.user = null
  save('mall.token', null)
  save('mall.user', null)
}

export function signedIn() {
  return Boolean(session.token)
}
