/* The page's one polite live region (#announcer in base.html), shared by every script that speaks to it. */

/** Say `message` to screen readers. The region is emptied first and refilled a moment later, so a message
 * that repeats the previous one is still announced. */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => { region.textContent = message; }, 60);
}
