// The colour theme: "system" (follow the device), "light" or "dark", remembered in localStorage.
// <html data-theme> holds an explicit choice (CSS fixes color-scheme by it); <html data-scheme> is
// the scheme in force either way, for the few rules that are not colours (the map tiles' filter).

const KEY = "dallas-calls.theme";
export const THEMES = ["system", "light", "dark"];
const darkQuery = matchMedia("(prefers-color-scheme: dark)");

export function savedTheme() {
  let value = null;
  try { value = localStorage.getItem(KEY); } catch { /* storage disabled */ }
  return THEMES.includes(value) ? value : "system";
}

export function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  root.dataset.scheme = theme === "system" ? (darkQuery.matches ? "dark" : "light") : theme;
}

/** Wire the theme <select>: apply the saved theme, remember each change, follow the device. */
export function initThemeControl(select) {
  let theme = savedTheme();
  applyTheme(theme);
  select.value = theme;
  select.addEventListener("change", () => {
    theme = THEMES.includes(select.value) ? select.value : "system";
    try { localStorage.setItem(KEY, theme); } catch { /* storage disabled: this page only */ }
    applyTheme(theme);
  });
  darkQuery.addEventListener("change", () => applyTheme(theme));
}
