"""E-books (.epub): the chapters in reading order, each read as HTML."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote

from bs4 import BeautifulSoup

from bot.loaders.base import Builder, LoadedDocument, LoaderError, check_zip
from bot.loaders.html import add_html
from bot.loaders.plain import decode_text


def read_epub(path: Path) -> LoadedDocument:
    """A ``.epub`` file: its spine's XHTML documents in order, chapter titles as headings."""
    check_zip(path, ".epub", "e-book")
    builder = Builder()
    try:
        with zipfile.ZipFile(path) as zf:
            container = BeautifulSoup(zf.read("META-INF/container.xml"), "xml")
            rootfile = container.find("rootfile")
            if rootfile is None or not rootfile.get("full-path"):
                raise LoaderError(".epub has no package document (META-INF/container.xml)")
            opf_path = str(rootfile["full-path"])
            opf = BeautifulSoup(zf.read(opf_path), "xml")
            base = posixpath.dirname(opf_path)
            manifest = {
                str(item.get("id")): str(item.get("href"))
                for item in opf.find_all("item")
                if item.get("id") and item.get("href")
            }
            title_tag = opf.find("title")
            title = title_tag.get_text(" ", strip=True) if title_tag else ""
            for ref in opf.find_all("itemref"):
                href = manifest.get(str(ref.get("idref")))
                if href is None:
                    continue
                name = posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))
                add_html(builder, decode_text(zf.read(name)))
    except LoaderError:
        raise
    except (KeyError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoaderError(f".epub is corrupt or incomplete: {exc}") from exc
    return builder.build(title)
