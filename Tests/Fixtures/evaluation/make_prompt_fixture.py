"""Renders reference prompts for the Swift evaluation tests with lm-evaluation-harness itself.

Run once (needs `pip install lm-eval==0.4.13`, no network beyond PyPI):
    python Tests/Fixtures/evaluation/make_prompt_fixture.py
It loads each task's real YAML from the installed lm_eval package, points the dataset at our vendored
files (converted in memory to the Hugging Face schema the YAML expects), builds the requests with
`ConfigurableTask.build_all_requests`, and writes prompts.json: for chosen documents, every
(context, continuation) pair, the choices (doc_to_choice) and their Python len(), and the gold index.
"""
import csv, gzip, json, os, tempfile
from pathlib import Path

import lm_eval
from lm_eval.api.task import ConfigurableTask
from lm_eval.tasks._yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "Experiments" / "Data"
TASKS = Path(lm_eval.__file__).parent / "tasks"
TMP = Path(tempfile.mkdtemp())


def jsonl(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write(name, rows):
    p = TMP / f"{name}.jsonl"
    with open(p, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return str(p)


def arc_schema(rows, stem_key):
    out = []
    for r in rows:
        labels = [chr(ord("A") + i) for i in range(len(r["choices"]))]
        out.append({"id": r["id"], stem_key: r["question"],
                    "choices": {"text": r["choices"], "label": labels}, "answerKey": labels[r["gold"]]})
    return out


def mmlu_rows(split, subject):
    with open(DATA / "mmlu" / split / f"{subject}_{split}.csv", newline="", encoding="utf-8") as f:
        return [{"question": q, "subject": subject, "choices": [a, b, c, d], "answer": "ABCD".index(ans)}
                for q, a, b, c, d, ans in csv.reader(f)]


def make_task(yaml_path, files, **overrides):
    cfg = load_yaml(yaml_path)
    cfg.pop("tag", None)
    cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files}, **overrides)
    return ConfigurableTask(config=cfg)


def render(task, indices, num_fewshot=0):
    indices = list(dict.fromkeys(indices))
    task.set_config(key="num_fewshot", value=num_fewshot)
    docs = list(task.eval_docs)
    task.build_all_requests(limit=None, samples=indices)
    # With `samples`, lm-eval numbers the selected documents 0, 1, … in file order.
    selected = sorted(set(indices))
    by_doc = {}
    for inst in task.instances:
        by_doc.setdefault(selected[inst.doc_id], []).append(inst)
    out = []
    for i in indices:
        insts = sorted(by_doc[i], key=lambda x: x.idx)
        doc = docs[i]
        choices = task.doc_to_choice(doc)
        gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
        out.append({"index": i,
                    "requests": [{"context": x.args[0], "continuation": x.args[1]} for x in insts],
                    "choices": choices, "choice_lengths": [len(c) for c in choices],
                    "choice_utf8_lengths": [len(c.encode("utf-8")) for c in choices],
                    "gold": gold})
    return out


def first_index(rows, pred):
    return next(i for i, r in enumerate(rows) if pred(r))


fixture = {"lm_eval_version": lm_eval.__version__}

arc_e = jsonl(DATA / "arc/arc_easy_test.jsonl")
arc_c = jsonl(DATA / "arc/arc_challenge_test.jsonl")
obqa = jsonl(DATA / "openbookqa/openbookqa_main_test.jsonl")
hs = jsonl(DATA / "hellaswag/hellaswag_validation.jsonl.gz")
piqa = jsonl(DATA / "piqa/piqa_validation.jsonl")
wg = jsonl(DATA / "winogrande/winogrande_xl_validation.jsonl")
bq = jsonl(DATA / "boolq/boolq_validation.jsonl.gz")
nonascii = lambda texts: any(ord(ch) > 127 for t in texts for ch in t)

spec = [
    ("arc_easy", TASKS / "arc/arc_easy.yaml", {"test": write("arc_e", arc_schema(arc_e, "question"))},
     [0, first_index(arc_e, lambda r: len(r["choices"]) != 4), first_index(arc_e, lambda r: nonascii(r["choices"]))]),
    ("arc_challenge", TASKS / "arc/arc_challenge.yaml", {"test": write("arc_c", arc_schema(arc_c, "question"))},
     [0, first_index(arc_c, lambda r: len(r["choices"]) == 5)]),
    ("openbookqa", TASKS / "openbookqa/openbookqa.yaml", {"test": write("obqa", arc_schema(obqa, "question_stem"))}, [0]),
    ("hellaswag", TASKS / "hellaswag/hellaswag.yaml", {"validation": write("hs", hs)},
     [0, first_index(hs, lambda r: "[title]" in r["ctx"] and any(e.startswith("[") for e in r["endings"])),
      first_index(hs, lambda r: nonascii(r["endings"])),
      first_index(hs, lambda r: r["ctx_b"] == "")]),
    ("piqa", TASKS / "piqa/piqa.yaml", {"validation": write("piqa", piqa)},
     [0, first_index(piqa, lambda r: nonascii([r["sol1"], r["sol2"]]))]),
    ("winogrande", TASKS / "winogrande/default.yaml", {"validation": write("wg", wg)}, [0, 1]),
    ("boolq", TASKS / "super_glue/boolq/default.yaml",
     {"validation": write("bq", [{"question": r["question"], "passage": r["passage"], "label": int(r["answer"])} for r in bq])},
     [0, first_index(bq, lambda r: r["answer"])]),
]
for name, yaml_path, files, indices in spec:
    split = next(iter(files))
    # We ship no train splits (these tasks are reported 0-shot), so no few-shot pool is configured.
    overrides = {"training_split": None, "validation_split": split if split != "test" else None,
                 "test_split": split if split == "test" else None}
    fixture[name] = render(make_task(yaml_path, files, **overrides), indices)

# MMLU: the per-subject YAML merged with its template; 0-shot and 5-shot (first_n from dev).
for subject in ["abstract_algebra", "high_school_european_history", "world_religions"]:
    test = mmlu_rows("test", subject)
    files = {"test": write(f"mmlu_{subject}_test", test), "dev": write(f"mmlu_{subject}_dev", mmlu_rows("dev", subject))}
    quoted = first_index(test, lambda r: "\n" in r["question"] or '"' in r["question"])
    for variant, folder in [("mmlu", "default"), ("mmlu_continuation", "continuation")]:
        yaml_path = TASKS / "mmlu" / folder / f"mmlu_{subject}.yaml"
        for shots in (0, 5):
            key = f"{variant}/{subject}/{shots}"
            fixture[key] = render(make_task(yaml_path, files), [0, quoted], num_fewshot=shots)

with open(Path(__file__).with_name("prompts.json"), "w", encoding="utf-8") as f:
    json.dump(fixture, f, ensure_ascii=False, indent=1)
print("wrote", {k: [d["index"] for d in v] for k, v in fixture.items() if isinstance(v, list)})
