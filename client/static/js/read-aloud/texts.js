/* What is read: the page's result descriptions as texts, one per result, each ending as a sentence. */

/** `text` trimmed, with a full stop added unless it already ends a sentence (so the voice pauses there). */
export function sentenceEnd(text) {
  const t = text.trim();
  return !t || /[.!?…]["'”’)\]]*$/u.test(t) ? t : t + ".";
}

/** One text per result on the page: its alt text, then its long description. */
export function resultItems() {
  return [...document.querySelectorAll("#results .result")].map((li) => {
    const alt = li.querySelector("img")?.getAttribute("alt") || "";
    const long = li.querySelector(".long")?.textContent || "";
    return [sentenceEnd(alt), sentenceEnd(long)].filter(Boolean).join(" ");
  }).filter(Boolean);
}

/** The text a "Read" button names (data-read: the id of the element to read), as a list of at most one. */
export function describedBy(button) {
  const source = document.getElementById(button.dataset.read || "");
  return source ? [sentenceEnd(source.textContent || "")].filter(Boolean) : [];
}
