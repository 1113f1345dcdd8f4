"""What a screen reader gets from a page: Chromium's accessibility tree, read out in order, one line per thing.

``reading_script(page)`` asks Chromium (CDP ``Accessibility.getFullAXTree``, the tree screen readers are given)
for the page as it is now and walks it in document order the way a screen reader's browse mode reads it:

- landmarks and regions as they are entered (``navigation: Main``), headings with their level, lists with their
  size, links, buttons, fields and images with their accessible names and the states a screen reader says
  (``toggle, not pressed``, ``collapsed``, ``invalid``, ``focused``); a control is read by its name, not its
  inner text;
- a run of text (a paragraph, a table cell, a description) as one line;
- live regions by role only: what they hold depends on timing and is checked by the announcement tests.

Nodes hidden from assistive technology (``aria-hidden``, ``hidden``, ``display: none``) are not in the tree.
Numbers that float arithmetic may round differently on another machine (scores, percentages, sizes in KB) and the
scratch folder's path are masked, so a script changes only when names, roles, states or order do.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page

# Roles read as one line by their accessible name; what is inside them is not read again.
NAMED_LEAVES = {
    "button": "button",
    "link": "link",
    "heading": "heading",
    "image": "image",
    "img": "image",
    "searchbox": "search box",
    "textbox": "edit",
    "combobox": "combo box",
    "ComboBoxSelect": "combo box",
    "checkbox": "check box",
    "radio": "radio button",
    "DisclosureTriangle": "summary",
    "columnheader": "column header",
    "rowheader": "row header",
    "cell": "cell",
    "gridcell": "cell",
    "term": "term",
    "definition": "definition",
    "Canvas": "canvas",
}
# Containers announced when entered (with their name if they have one), then read inside.
ANNOUNCED = {
    "banner": "banner",
    "navigation": "navigation",
    "main": "main",
    "contentinfo": "content info",
    "search": "search",
    "form": "form",
    "region": "region",
    "complementary": "complementary",
    "figure": "figure",
    "table": "table",
    "list": "list",
    "DescriptionList": "description list",
    "group": "group",
    "dialog": "dialog",
    "alert": "alert",
    "article": "article",
    "Details": "details",
}
# Announced only when named: screen readers pass over an unnamed form or group.
NAMED_ONLY = {"form", "group", "Details"}
# Leaves that are read by their text when they have no name of their own.
TEXT_LEAVES = {"term", "definition", "cell", "gridcell", "columnheader", "rowheader"}
LIVE = {"status", "log", "alert", "timer", "marquee"}
# A table's caption is its name, already read with the table.
SKIPPED = {"caption"}
TEXT = {"StaticText"}
SILENT = {"InlineTextBox", "LineBreak", "ListMarker"}

MASKS = [
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|percent)"), "#%"),  # probabilities, shares, confidences
    (re.compile(r"\b\d+\.\d+\b"), "#.#"),  # scores, KB, MB
    (re.compile(r"/\S*?/data/01_raw/"), "<collection>/"),  # the test's scratch folder
]


def reading_script(page: Page) -> list[str]:
    """The page as a screen reader reads it now: one line per landmark, heading, control, image or text run."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    by_id = {node["nodeId"]: node for node in nodes}
    root = next(node for node in nodes if "parentId" not in node)
    lines: list[str] = []
    _read(root, by_id, lines)
    return [_mask(line) for line in lines if line.strip()]


def _value(node: dict, key: str) -> str:
    return str((node.get(key) or {}).get("value", "") or "").strip()


def _properties(node: dict) -> dict:
    return {p["name"]: p["value"].get("value") for p in node.get("properties", [])}


def _states(role: str, props: dict) -> list[str]:
    states = []
    if role == "heading" and props.get("level"):
        states.append(f"level {props['level']}")
    if "pressed" in props:
        states.append(
            "toggle, "
            + {"true": "pressed", "false": "not pressed", "mixed": "half pressed"}[str(props["pressed"]).lower()]
        )
    if "expanded" in props:
        states.append("expanded" if props["expanded"] else "collapsed")
    if "checked" in props:
        states.append("checked" if str(props["checked"]).lower() == "true" else "not checked")
    if props.get("invalid") not in (None, "false", False):
        states.append("invalid")
    if props.get("required"):
        states.append("required")
    if props.get("disabled"):
        states.append("unavailable")
    if props.get("busy"):
        states.append("busy")
    if props.get("keyshortcuts"):
        states.append(f"shortcut {props['keyshortcuts']}")
    if props.get("focused"):
        states.append("focused")
    return states


def _text_of(node: dict, by_id: dict) -> str:
    """All text under ``node`` joined, for a run of text read as one line."""
    if node.get("ignored"):
        parts = []
    elif _value(node, "role") in TEXT:
        return _value(node, "name")
    else:
        parts = []
    for child in node.get("childIds", []):
        if child in by_id:
            parts.append(_text_of(by_id[child], by_id))
    # Inline pieces are read as one phrase: no pause before the punctuation that follows a piece.
    return re.sub(r" ([;,.:!?)])", r"\1", " ".join(p for p in parts if p).strip())


def _has_structure(node: dict, by_id: dict) -> bool:
    """Whether anything under ``node`` is read on its own line (a control, a container, a paragraph)."""
    for child in node.get("childIds", []):
        item = by_id.get(child)
        if item is None:
            continue
        role = _value(item, "role")
        if not item.get("ignored") and (role in NAMED_LEAVES or role in ANNOUNCED or role == "paragraph"):
            return True
        if _has_structure(item, by_id):
            return True
    return False


def _read(node: dict, by_id: dict, lines: list[str]) -> None:
    role = _value(node, "role")
    if node.get("ignored") or role in SILENT:
        _children(node, by_id, lines)
        return
    name = _value(node, "name")
    props = _properties(node)
    states = _states(role, props)
    if role == "RootWebArea":
        lines.append(f"document: {name}")
        _children(node, by_id, lines)
        return
    if role in LIVE:
        lines.append(f"{role} (live region)")
        return
    if role in SKIPPED:
        return
    if role in NAMED_LEAVES:
        spoken = NAMED_LEAVES[role]
        if not name and role in TEXT_LEAVES:
            name = _text_of(node, by_id)
        value = _value(node, "value")
        description = _value(node, "description")
        words = ", ".join([spoken, *states])
        line = f"{words}: {name}" if name else words
        if value and value != name:
            line += f" = {value}"
        if description:
            line += f" (description: {description})"
        lines.append(line)
        return
    if role in ANNOUNCED and (name or role not in NAMED_ONLY):
        spoken = ANNOUNCED[role]
        if role == "list":
            items = sum(1 for c in node.get("childIds", []) if _value(by_id.get(c, {}), "role") == "listitem")
            spoken += f", {items} item" + ("" if items == 1 else "s")
        lines.append(", ".join([spoken, *states]) + (f": {name}" if name else ""))
        _children(node, by_id, lines)
        return
    if role in TEXT:
        lines.append(name)
        return
    if not _has_structure(node, by_id):
        # A run of text (a paragraph, a list item, a wrapper) with no control or paragraph inside: one line.
        text = _text_of(node, by_id)
        if text:
            lines.append(text)
        return
    _children(node, by_id, lines)


def _children(node: dict, by_id: dict, lines: list[str]) -> None:
    for child in node.get("childIds", []):
        if child in by_id:
            _read(by_id[child], by_id, lines)


def _mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line
