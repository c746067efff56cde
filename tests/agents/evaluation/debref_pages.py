"""Debian Reference pages in miniature (English and German), like the real DocBook XSL output.

They copy the structure of ``ch01.en.html`` / ``ch01.de.html`` of debian-reference 2.100
(navigation, table of contents, ``<a id="…"/>`` in the headings, admonitions, screens).
"""

from __future__ import annotations

LONG_EN = "Upon starting the system, you are presented with the character based login screen. " * 3


LONG_EN2 = "Virtual consoles let you run several logins at once on one screen of a text mode system. " * 3


LONG_EN3 = "The tmpfs filesystem keeps all of its files in virtual memory instead of on a disk. " * 3


LONG_DE = "Nach dem Start des Systems sehen Sie den zeichenbasierten Anmeldebildschirm. " * 3


LONG_DE2 = "Mit virtuellen Konsolen können Sie mehrere Anmeldungen gleichzeitig nutzen. " * 3


def section_html(level: int, anchor: str, title: str, body: str) -> str:
    return f"""<div class="section"><div class="titlepage"><div><div>
      <h{level} class="title"><a id="{anchor}"/>{title}</h{level}></div></div></div>
      {body}"""


def page(lang: str, chapter: str, titles: dict[str, str], texts: dict[str, str], extra: str = "") -> str:
    prompt = f"""<p>{texts["_the_shell_prompt"]} Your host is <code class="literal">foo</code>.</p>
      <div class="note"><table border="0" summary="Note"><tr><th align="left">Note</th></tr>
        <tr><td><p>{texts["note"]}</p></td></tr></table></div>
      <pre class="screen">foo login:</pre>"""
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{chapter}</title></head><body>
<div class="navheader"><table><tr><th colspan="3">{chapter}</th></tr></table><hr/></div>
<div class="chapter"><div class="titlepage"><div><div>
  <h1 class="title"><a id="_tutorials"/>{chapter}</h1></div></div></div>
  <div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc"><dt><span class="section">
    <a href="ch01.{lang}.html#_console_basics">1.1. {titles["_console_basics"]}</a></span></dt></dl></div>
  <p>{texts["_tutorials"]}</p>
  {section_html(2, "_console_basics", "1.1. " + titles["_console_basics"], "")}
    {section_html(3, "_the_shell_prompt", "1.1.1. " + titles["_the_shell_prompt"], prompt)}
    </div>
    {section_html(3, "_virtual_consoles", "1.1.2. " + titles["_virtual_consoles"], f"<p>{texts['_vc']}</p>")}
    </div>
    {section_html(3, "_tmpfs", "1.1.3. " + titles["_tmpfs"], texts["_tmpfs"])}
    </div>
  </div>
  {extra}
</div>
<div class="navfooter"><a href="ch02.{lang}.html">Next</a></div>
</body></html>"""


EN = page(
    "en",
    "Chapter 1. GNU/Linux tutorials",
    {
        "_console_basics": "Console basics",
        "_the_shell_prompt": "The shell prompt",
        "_virtual_consoles": "Virtual consoles",
        "_tmpfs": "tmpfs",
    },
    {
        "_tutorials": "Short intro.",
        "_the_shell_prompt": LONG_EN,
        "note": "Usernames are case sensitive.",
        "_vc": LONG_EN2,
        "_tmpfs": f"<p>{LONG_EN3}</p><p>Second paragraph.</p>",
    },
    extra=section_html(2, "_english_only", "1.2. Only in English", f"<p>{LONG_EN}</p>") + "</div>",
)


DE = page(
    "de",
    "Kapitel 1. GNU/Linux-Lehrstunde",
    {
        "_console_basics": "Grundlagen für die Konsole",
        "_the_shell_prompt": "Die Shell-Eingabeaufforderung",
        "_virtual_consoles": "Virtuelle Konsolen",
        "_tmpfs": "tmpfs",  # left untranslated, as the real German title is
    },
    {
        "_tutorials": "Kurze Einleitung.",
        "_the_shell_prompt": LONG_DE,
        "note": "Benutzernamen unterscheiden Groß- und Kleinschreibung.",
        "_vc": LONG_DE2,
        # po4a left the first paragraph in English: no translated opening
        "_tmpfs": f"<p>{LONG_EN3}</p><p>Zweiter Absatz auf Deutsch.</p>",
    },
)
