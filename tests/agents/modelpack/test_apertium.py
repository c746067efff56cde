"""Apertium from Debian packages: dependency closure, unpacking, relocated modes, atomic install,
``babelrag models install apertium``, and choosing Apertium per language pair.

The packages are real ``.deb`` files that the tests build with ``dpkg-deb`` (a fake ``apertium``
script and word-table modes), served by a fake apt: no network, no root.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from babelrag.agents.config import TranslationSettings, load_settings
from babelrag.agents.modelpack import apertium as ap
from babelrag.agents.modelpack import registry
from babelrag.chains.apertium import ApertiumInstall
from babelrag.chains.translate import RoutingTranslator
from babelrag.stores.errors import ModelNotInstalledError, ModelPackError
from tests.chains.test_apertium import FAKE_APERTIUM

pytestmark = pytest.mark.unit

DEPENDS = """\
apertium
  Depends: gawk
  Depends: libapertium3
  Depends: libc6
apertium-eng-spa
  Depends: apertium
  |Depends: libfoo1
  Depends: libfoo1-compat
cg3
  Depends: libcg3-1
  Depends: <perl:any>
    perl
  PreDepends: libstdc++6
gawk
  PreDepends: libc6
  PreDepends: libsigsegv2
libapertium3
  Depends: libc6
"""


class FakeApt:
    """Serves ``apt-cache depends`` from a table and builds each asked-for package as a real .deb."""

    def __init__(self, tables: dict[str, dict], work: Path) -> None:
        self.tables = tables
        self.work = work
        self.downloaded: list[str] = []

    def depends(self, names) -> str:
        blocks = {
            "apertium": "  Depends: gawk\n  Depends: libc6\n",
            "cg3": "  Depends: <perl:any>\n    perl\n",
        }
        return "".join(f"{n}\n{blocks.get(n, '')}" for n in names)

    def download(self, packages, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        self.downloaded = list(packages)
        return [self._deb(name, folder) for name in packages]

    def _deb(self, name: str, folder: Path) -> Path:
        root = self.work / "staging" / name
        shutil.rmtree(root, ignore_errors=True)
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN/control").write_text(
            f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.org>\n"
            f"Description: fake {name}\n",
            encoding="utf-8",
        )
        if name == "apertium":
            exe = root / "usr/bin/apertium"
            exe.parent.mkdir(parents=True)
            exe.write_text(FAKE_APERTIUM.format(python=sys.executable))
            exe.chmod(0o755)
            (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
            (root / "usr/lib/x86_64-linux-gnu/libapertium.so.3").write_bytes(b"")
        if name == "apertium-eng-spa":
            data = root / "usr/share/apertium"
            (data / "apertium-eng-spa").mkdir(parents=True)
            (data / "apertium-eng-spa/spa-eng.automorf.bin").write_bytes(b"")
            (data / "modes").mkdir()
            for mode, table in self.tables.items():
                (data / "modes" / f"{mode}.mode").write_text(json.dumps(table), encoding="utf-8")
        deb = folder / f"{name}_1.0-1_all.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
        )
        return deb


SPA_ENG = {
    "__path__": "'/usr/share/apertium/apertium-eng-spa/spa-eng.automorf.bin'",  # like a real .mode
    "casa blanca": "white house",
    "la": "the",
    "hola": "hello",
}


PT_ES = {"casa branca": "casa blanca", "a": "la"}


@pytest.fixture
def fake_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeApt:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is needed to build the test packages")
    apt = FakeApt({"spa-eng": SPA_ENG, "pt-es": PT_ES}, tmp_path / "work")
    monkeypatch.setattr(ap, "Apt", lambda private, progress: apt)
    monkeypatch.setattr(ap, "installed_packages", lambda names: {"libc6"})
    monkeypatch.setenv("FAKE_APERTIUM_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setattr(ApertiumInstall, "system", classmethod(lambda cls: None))
    return apt


class TestDependencies:
    def test_groups_alternatives_and_virtual_packages(self) -> None:
        groups = list(ap.dependency_groups(DEPENDS))
        assert ["libfoo1", "libfoo1-compat"] in groups, "|Depends starts a group of alternatives"
        assert ["perl"] in groups, "a virtual package stands for its providers"
        assert ["libstdc++6"] in groups and ["libsigsegv2"] in groups, "PreDepends count"

    def test_closure_leaves_out_what_the_system_has(self, monkeypatch: pytest.MonkeyPatch) -> None:
        tree = {
            "apertium": ["gawk", "libapertium3", "libc6"],
            "cg3": ["<perl:any>", "libstdc++6"],
            "gawk": ["libc6", "libsigsegv2"],
            "libapertium3": ["libc6", "libxml2"],
            "libxml2": ["libicu72"],
        }

        class TreeApt:
            def __init__(self) -> None:
                self.asked: list[list[str]] = []

            def depends(self, names) -> str:
                self.asked.append(list(names))
                lines = []
                for name in names:
                    lines.append(name)
                    for dep in tree.get(name, []):
                        lines.append(f"  Depends: {dep}")
                        if dep.startswith("<perl"):
                            lines.append("    perl")
                return "\n".join(lines) + "\n"

        installed = {"libc6", "libstdc++6", "libxml2"}
        monkeypatch.setattr(ap, "installed_packages", lambda names: installed & set(names))
        apt = TreeApt()
        packages = ap.resolve_packages(apt, ["apertium", "cg3"])  # type: ignore[arg-type]
        assert packages == ["apertium", "cg3", "gawk", "libapertium3", "libsigsegv2"]
        assert "libicu72" not in packages, "an installed library (libxml2) brings its own dependencies"
        assert "perl" not in packages, "cg3's perl scripts are never run"
        assert apt.asked[0] == ["apertium", "cg3"], "one apt-cache call per level"

    def test_the_packages_asked_for_are_kept_even_when_installed(self, monkeypatch) -> None:
        class NoDeps:
            def depends(self, names) -> str:
                return "".join(f"{n}\n" for n in names)

        monkeypatch.setattr(ap, "installed_packages", lambda names: set(names))
        assert ap.resolve_packages(NoDeps(), ["apertium"]) == ["apertium"]  # type: ignore[arg-type]


class TestRewriteModes:
    def test_quoted_paths_point_at_the_new_folder(self, tmp_path: Path) -> None:
        (tmp_path / "modes").mkdir()
        mode = tmp_path / "modes/spa-eng.mode"
        mode.write_text(
            "lt-proc '/usr/share/apertium/apertium-eng-spa/a.bin' | lt-proc $1 '/usr/share/apertium/b.bin'"
        )
        ap.rewrite_modes(
            tmp_path, "/usr/share/apertium", "/home/u/.cache/babelrag/apertium/usr/share/apertium"
        )
        text = mode.read_text()
        assert text == (
            "lt-proc '/home/u/.cache/babelrag/apertium/usr/share/apertium/apertium-eng-spa/a.bin' "
            "| lt-proc $1 '/home/u/.cache/babelrag/apertium/usr/share/apertium/b.bin'"
        )

    def test_an_unquoted_path_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "modes").mkdir()
        (tmp_path / "modes/x.mode").write_text("lt-proc /usr/share/apertium/a.bin")
        with pytest.raises(ModelPackError, match="outside quotes"):
            ap.rewrite_modes(tmp_path, "/usr/share/apertium", "/elsewhere")


class TestInstall:
    def test_installs_into_the_cache_and_translates(self, tmp_path: Path, fake_apt: FakeApt) -> None:
        cache = tmp_path / "cache"
        outcome = ap.install(cache)
        folder = cache / "apertium"
        assert (outcome.action, outcome.path) == ("installed", folder)
        assert fake_apt.downloaded == [*ap.PACKAGES, "gawk"], "libc6 is the system's, perl is not needed"
        manifest = json.loads((folder / ap.MANIFEST).read_text())
        assert manifest["packages"]["apertium"]["version"] == "1.0-1"
        assert manifest["check"]["output"] == "the white house"
        mode = json.loads((folder / "usr/share/apertium/modes/spa-eng.mode").read_text())
        assert mode["__path__"] == f"'{folder}/usr/share/apertium/apertium-eng-spa/spa-eng.automorf.bin'"
        assert not list(cache.glob(".partial-*")) and not (folder / ".debs").exists()

        translator = ap.load_apertium(cache)
        assert translator.id == f"apertium:{manifest['fingerprint']}"
        assert translator.translate("hola casa", "es", "en") == "hello casa"

    def test_again_is_a_no_op_and_force_rebuilds(self, tmp_path: Path, fake_apt: FakeApt) -> None:
        cache = tmp_path / "cache"
        ap.install(cache)
        assert ap.install(cache).action == "already installed"
        fake_apt.downloaded = []
        assert ap.install(cache, force=True).action == "installed"
        assert fake_apt.downloaded and ap.read_manifest(cache) is not None
        assert not list(cache.glob(".old-*"))

    def test_a_failed_check_leaves_nothing_behind(self, tmp_path: Path, fake_apt: FakeApt) -> None:
        fake_apt.tables = {"spa-eng": {**SPA_ENG, "casa blanca": "blanket"}, "pt-es": PT_ES}
        cache = tmp_path / "cache"
        with pytest.raises(ModelPackError, match="expected 'white house'"):
            ap.install(cache)
        assert not (cache / "apertium").exists() and not list(cache.glob(".partial-*"))
        with pytest.raises(ModelNotInstalledError) as info:
            ap.load_apertium(cache)
        assert "babelrag models install apertium" in (info.value.hint or "")

    def test_a_failed_rebuild_keeps_the_working_install(self, tmp_path: Path, fake_apt: FakeApt) -> None:
        cache = tmp_path / "cache"
        ap.install(cache)
        fake_apt.tables = {"spa-eng": {"__fail__": True}}
        with pytest.raises(Exception, match="cannot read transducer"):
            ap.install(cache, force=True)
        assert ap.load_apertium(cache).translate("hola", "es", "en") == "hello"

    def test_the_cli_installs_apertium_only_when_named(
        self, tmp_path: Path, fake_apt: FakeApt, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from babelrag.agents.cli.app import app

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        built: list[object] = []
        monkeypatch.setattr(
            registry.ModelPack, "install", lambda self, names, **kw: built.append(names) or []
        )
        result = CliRunner().invoke(app, ["--quiet", "models", "install", "apertium"])
        assert result.exit_code == 0, result.output
        assert "apertium: installed" in result.output
        assert built == [], "naming apertium builds no model"
        assert (tmp_path / "xdg-cache/babelrag/apertium" / ap.MANIFEST).is_file()

        CliRunner().invoke(app, ["--quiet", "models", "install"])
        assert built and "apertium" not in built[-1], "not part of the default install"


class TestSelection:
    """Which engine translates a pair: ``translation.engine``, ``translation.pairs``, what is installed."""

    def test_auto_uses_apertium_where_it_measured_better_once_installed(self, monkeypatch) -> None:
        assert TranslationSettings.auto_apertium_pairs == ("pt-en",), "as measured in the README"
        monkeypatch.setattr(TranslationSettings, "auto_apertium_pairs", ("es-en", "pt-en"))
        routes, default = TranslationSettings().routing(apertium_installed=True)
        assert default == ["llm"]
        assert routes == {"es-en": ["apertium", "llm"], "pt-en": ["apertium", "llm"]}
        routes, default = TranslationSettings().routing(apertium_installed=False)
        assert all(engines == ["llm"] for engines in routes.values())

    def test_a_configured_model_comes_first(self) -> None:
        routes, default = TranslationSettings(model="x/opus-mt-pt-en").routing(apertium_installed=True)
        assert default == ["model", "llm"] and routes["pt-en"] == ["model", "apertium", "llm"]

    def test_the_engine_for_every_pair(self) -> None:
        routes, default = TranslationSettings(engine="apertium").routing(apertium_installed=False)
        assert default == ["apertium", "llm"] and routes == {}, "a pair Apertium lacks goes to the generator"

    def test_pairs_override_the_engine(self) -> None:
        cfg = TranslationSettings(engine="llm", pairs={"ES-en": "apertium", "zh_en": "llm"})
        assert cfg.pairs == {"es-en": "apertium", "zh-en": "llm"}
        routes, default = cfg.routing(apertium_installed=False)
        assert default == ["llm"] and routes == {"es-en": ["apertium", "llm"], "zh-en": ["llm"]}

    @pytest.mark.parametrize(
        ("values", "message"),
        [
            ({"pairs": {"spanish": "apertium"}}, "must look like es-en"),
            ({"engine": "model"}, "needs translation.model"),
        ],
    )
    def test_invalid(self, values: dict, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            TranslationSettings(**values)

    def test_runtime_routes_spanish_to_an_installed_apertium(self, tmp_path: Path, fake_apt: FakeApt) -> None:
        from babelrag.agents.runtime import Runtime

        cache = tmp_path / "cache"
        ap.install(cache)
        rt = Runtime(load_settings(cache_dir=cache, home=tmp_path / "home", translation={"cache": False}))
        translator = rt.translator
        assert isinstance(translator, RoutingTranslator)
        assert translator.engine_for("pt", "en") == "apertium", "auto: installed, and measured better"
        assert translator.engine_for("es", "en") == "llm", "auto: the generator measured better"
        assert translator.engine_for("zh", "en") == "llm"
        assert translator.translate("a casa branca", "pt", "en") == "the white house", "through Spanish"
        spanish = Runtime(
            rt.settings.model_copy(update={"translation": TranslationSettings(pairs={"es-en": "apertium"})})
        )
        assert spanish.translator.translate("la casa blanca", "es", "en") == "the white house"
        assert "llm" not in rt.__dict__ and "translation_llm" not in rt.__dict__, "the generator never loaded"

    def test_naming_apertium_without_it_is_a_clear_error(self, tmp_path: Path, monkeypatch) -> None:
        from babelrag.agents.runtime import Runtime

        monkeypatch.setattr(ApertiumInstall, "system", classmethod(lambda cls: None))
        settings = load_settings(cache_dir=tmp_path / "cache", translation={"pairs": {"es-en": "apertium"}})
        with pytest.raises(ModelNotInstalledError) as info:
            Runtime(settings).translator.translate("hola", "es", "en")
        assert "babelrag models install apertium" in (info.value.hint or "")
        auto = Runtime(load_settings(cache_dir=tmp_path / "cache")).translator
        assert auto.engine_for("pt", "en") == "llm", "auto without Apertium uses the generator"
