import { createApp } from "vue";
import App from "./App.vue";
import { whenSignedOut } from "./api/client";
import { router } from "./router";
import { forget } from "./session";
import "./styles.css";

whenSignedOut((error) => {
  forget(error.message);
  const here = router.currentRoute.value;
  if (here.name !== "login") void router.push({ name: "login", query: { next: here.fullPath } });
});

createApp(App).use(router).mount("#app");
