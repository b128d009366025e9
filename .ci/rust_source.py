"""Reading Rust source for the architecture checks: comments and the
contents of string and char literals blanked in one pass (so `"//"` in a
string or `'{'` in a char is no comment and no brace), and every
`#[cfg(test)]` item found, brace by brace."""
import re


def blanked(text):
    """`text` with comments and literal contents replaced by spaces; line
    breaks kept, so positions map to the same lines."""
    out, i, n = [], 0, len(text)

    def spaces(s):
        return re.sub(r"[^\n]", " ", s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(spaces(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            depth, j = 0, i
            while j < n:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out.append(spaces(text[i:j]))
            i = j
        elif m := re.match(r'(?:b|c)?r(#*)"', text[i:i + 300]) if c in "rbc" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None:
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + spaces(text[i + 2:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + spaces(text[i + 2:j + 1]))
            i = j + 1
        elif c == "'":
            m = re.match(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'", text[i:i + 12])
            if m:
                out.append("' '" + spaces(text[i + 3:i + m.end()]))
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def item_end(text, j):
    """Where the item starting at `j` ends: after its matching `}`, or its
    `;` when it has no body."""
    while j < len(text) and text[j] not in "{;":
        j += 1
    if j >= len(text) or text[j] == ";":
        return j + 1
    depth = 0
    while j < len(text):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
        if depth == 0:
            break
    return j


def test_spans(text):
    """The spans of every `#[cfg(test)]` item of blanked `text`."""
    spans, last = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if m.start() < last:
            continue
        last = item_end(text, m.end())
        spans.append((m.start(), last))
    return spans


def without_tests(text):
    """Blanked `text` with its `#[cfg(test)]` items cut out."""
    text = blanked(text)
    out, i = [], 0
    for a, b in test_spans(text):
        out.append(text[i:a])
        i = b
    out.append(text[i:])
    return "".join(out)
