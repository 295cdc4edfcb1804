import { createApp } from "vue";
import App from "./App.vue";
import { whenSignedOut } from "./api/client";
import { router } from "./router";
import { signedOut } from "./session";
import "./styles.css";

whenSignedOut((error) => {
  signedOut(error);
  const here = router.currentRoute.value;
  if (here.name !== "login") void router.push({ name: "login", query: { next: here.fullPath } });
});

createApp(App).use(router).mount("#app");
