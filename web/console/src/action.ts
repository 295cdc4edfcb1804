// Every page loads and acts the same way: busy while waiting, the API's own words when it refuses.
import { ref, shallowRef, type Ref } from "vue";
import { ApiError } from "./api/client";

export function asApiError(cause: unknown): ApiError {
  if (cause instanceof ApiError) return cause;
  return new ApiError(0, "CLIENT", cause instanceof Error ? cause.message : String(cause));
}

export function useLoad<T>(load: () => Promise<T>) {
  const data = shallowRef<T | null>(null) as Ref<T | null>;
  const error = shallowRef<ApiError | null>(null);
  const loading = ref(false);
  async function reload(): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      data.value = await load();
    } catch (cause) {
      error.value = asApiError(cause);
    } finally {
      loading.value = false;
    }
  }
  void reload();
  return { data, error, loading, reload };
}

export function useAction() {
  const busy = ref(false);
  const error = shallowRef<ApiError | null>(null);
  const done = ref("");
  async function run<R>(act: () => Promise<R>, doneMessage = ""): Promise<R | undefined> {
    busy.value = true;
    error.value = null;
    done.value = "";
    try {
      const result = await act();
      done.value = doneMessage;
      return result;
    } catch (cause) {
      error.value = asApiError(cause);
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, done, run };
}

/** Cursor pages (`items`, `next_cursor`): the first page, then "more" appends the next one. */
export function usePages<T>(loadPage: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor?: string | null }>) {
  const items = shallowRef<T[]>([]) as Ref<T[]>;
  const next = ref<string | null>(null);
  const error = shallowRef<ApiError | null>(null);
  const loading = ref(false);
  async function fetchPage(cursor: string | undefined): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      const page = await loadPage(cursor);
      items.value = cursor ? [...items.value, ...page.items] : page.items;
      next.value = page.next_cursor ?? null;
    } catch (cause) {
      error.value = asApiError(cause);
    } finally {
      loading.value = false;
    }
  }
  const reload = () => fetchPage(undefined);
  const more = () => (next.value ? fetchPage(next.value) : Promise.resolve());
  void reload();
  return { items, next, error, loading, reload, more };
}
