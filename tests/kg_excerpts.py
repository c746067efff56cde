"""Tiny excerpts of the real Wikidata and DBpedia dump formats, for the knowledge-graph tests.

The Wikidata excerpt is shaped as ``latest-all.json`` is: a JSON array, one entity a line, each
line but the last ending in ``,``; referenced entities stand both before (Q36180) and after (Q5,
the properties) the entity that names them.
"""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any


def _texts(**by_lang: str) -> dict[str, dict[str, str]]:
    return {
        lang.replace("_", "-"): {"language": lang.replace("_", "-"), "value": v}
        for lang, v in by_lang.items()
    }


def _item(qid: str) -> dict[str, Any]:
    return {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}


def statement(prop: str, datatype: str, value: Any, kind: str, rank: str = "normal") -> dict[str, Any]:
    return {
        "mainsnak": {
            "snaktype": "value",
            "property": prop,
            "datavalue": {"value": value, "type": kind},
            "datatype": datatype,
        },
        "type": "statement",
        "rank": rank,
    }


def item_statement(prop: str, qid: str, rank: str = "normal") -> dict[str, Any]:
    return statement(prop, "wikibase-item", _item(qid), "wikibase-entityid", rank)


def entity(
    eid: str, labels: dict, descriptions: dict | None = None, claims: dict | None = None, **extra: Any
):
    return {
        "type": "property" if eid.startswith("P") else "item",
        "id": eid,
        "labels": labels,
        "descriptions": descriptions or {},
        "aliases": extra.pop("aliases", {}),
        "claims": claims or {},
        "sitelinks": extra.pop("sitelinks", {}),
        **extra,
    }


def adams(description_de: str = "britischer Schriftsteller") -> dict[str, Any]:
    return entity(
        "Q42",
        _texts(
            en="Douglas Adams",
            de="Douglas Adams",
            fr="Douglas Adams",
            zh="道格拉斯·亚当斯",
            ast="Douglas Adams",
        ),
        _texts(en="English writer and humorist", de=description_de, zh="英国作家"),
        {
            "P31": [item_statement("P31", "Q5")],
            "P106": [item_statement("P106", "Q36180", "preferred"), item_statement("P106", "Q245068")],
            "P569": [
                statement(
                    "P569",
                    "time",
                    {"time": "+1952-03-11T00:00:00Z", "precision": 11, "calendarmodel": "Q1985727"},
                    "time",
                )
            ],
            "P2048": [
                statement(
                    "P2048",
                    "quantity",
                    {"amount": "+1.96", "unit": "http://www.wikidata.org/entity/Q11573"},
                    "quantity",
                )
            ],
            "P214": [statement("P214", "external-id", "113230702", "string")],
        },
        aliases={"en": [{"language": "en", "value": "Douglas Noël Adams"}]},
        sitelinks={
            "enwiki": {"site": "enwiki", "title": "Douglas Adams", "badges": []},
            "dewiki": {"site": "dewiki", "title": "Douglas Adams", "badges": []},
            "zhwiki": {"site": "zhwiki", "title": "道格拉斯·亚当斯", "badges": []},
        },
    )


def berlin() -> dict[str, Any]:
    return entity(
        "Q64",
        _texts(en="Berlin", de="Berlin", zh="柏林"),
        _texts(en="capital and largest city of Germany", de="Hauptstadt Deutschlands", zh="德国首都"),
        {"P31": [item_statement("P31", "Q515")]},
        sitelinks={"enwiki": {"site": "enwiki", "title": "Berlin", "badges": []}},
    )


def wikidata_entities(description_de: str = "britischer Schriftsteller") -> list[dict[str, Any]]:
    return [
        entity("Q36180", _texts(en="writer", de="Schriftsteller", fr="écrivain")),
        adams(description_de),
        berlin(),
        entity("Q5", _texts(en="human", de="Mensch", fr="être humain", zh="人类")),
        entity("Q515", _texts(en="city", de="Stadt", zh="城市")),
        entity("Q11573", _texts(en="metre", de="Meter")),
        entity("P31", _texts(en="instance of", de="ist ein(e)", fr="nature de l'élément", zh="隶属于")),
        entity("P106", _texts(en="occupation", de="Tätigkeit", zh="职业")),
        entity("P569", _texts(en="date of birth", de="Geburtsdatum", zh="出生日期")),
        entity("P2048", _texts(en="height", de="Höhe")),
        entity("P214", _texts(en="VIAF ID")),
    ]


def dump_text(entities: list[dict[str, Any]], *, bad_line: str | None = None) -> str:
    lines = [json.dumps(e, ensure_ascii=False) for e in entities]
    if bad_line is not None:
        lines.insert(2, bad_line)
    return "[\n" + ",\n".join(lines) + "\n]\n"


def write_dump(path: Path, text: str) -> Path:
    """``text`` written plain, or compressed as the suffix says (.gz, .bz2)."""
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


ABSTRACTS_DE = (
    "# started 2022-12-01T00:00:00Z\n"
    "<http://de.dbpedia.org/resource/Berlin> <http://dbpedia.org/ontology/abstract> "
    '"Berlin ist die Hauptstadt der Bundesrepublik Deutschland und mit rund 3,8 Millionen Einwohnern '
    'die bev\\u00F6lkerungsreichste Stadt. Sie wird oft \\"Spree-Athen\\" genannt."@de .\n'
    "<http://de.dbpedia.org/resource/Douglas_Adams> <http://dbpedia.org/ontology/abstract> "
    '"Douglas Noël Adams war ein britischer Schriftsteller."@de .\n'
    "this line is broken\n"
    "<http://de.dbpedia.org/resource/Spree> <http://dbpedia.org/ontology/abstract> "
    '"Die Spree ist ein Fluss in Sachsen, Brandenburg und Berlin."@de .\n'
)
ABSTRACTS_EN = (
    "<http://dbpedia.org/resource/Berlin> <http://www.w3.org/2000/01/rdf-schema#comment> "
    '"Berlin is the capital and largest city of Germany."@en .\n'
)
SAME_AS = (
    "<http://de.dbpedia.org/resource/Berlin> <http://www.w3.org/2002/07/owl#sameAs> "
    "<http://www.wikidata.org/entity/Q64> .\n"
    "<http://dbpedia.org/resource/Berlin> <http://www.w3.org/2002/07/owl#sameAs> "
    "<http://www.wikidata.org/entity/Q64> .\n"
    "<http://de.dbpedia.org/resource/Douglas_Adams> <http://www.w3.org/2002/07/owl#sameAs> "
    "<http://www.wikidata.org/entity/Q42> .\n"
    "<http://de.dbpedia.org/resource/Spree> <http://www.w3.org/2002/07/owl#sameAs> "
    "<http://fr.dbpedia.org/resource/Spree> .\n"
)
