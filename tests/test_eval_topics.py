"""``hubbub eval --tasks topics``: Hubbub's topics and BERTopic side by side on TweetTopicXL."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED

from hubbub.eval.report import TASKS, markdown
from hubbub.eval.topics import evaluate_topics, scores


def test_scores_count_outliers_as_a_cluster_and_flag_stopwords():
    rows = [{"topics": ["a"]}, {"topics": ["a"]}, {"topics": ["b"]}, {"topics": ["b", "a"]}]
    perfect = scores(np.array([0, 0, 1, 1]), rows, [{"label": "x", "keywords_by_lang": {"en": ["goal"]}}], "en")
    assert perfect["nmi_first"] == 1.0 and perfect["nmi_single"] == 1.0 and perfect["assigned"] == 1.0
    assert perfect["stopword_labels"] == 0
    outl = scores(np.array([-1, -1, 1, 1]), rows, [{"label": "x", "keywords_by_lang": {"en": ["the", "goal"]}}], "en")
    assert outl["assigned"] == 0.5 and outl["nmi_first"] == 1.0 and outl["stopword_labels"] == 1


@pytest.mark.slow  # about 30 s: fits both systems on 10 sets (BERTopic's UMAP compiles with numba first)
def test_side_by_side_on_tweettopicxl():
    assert "topics" in TASKS
    r = evaluate_topics(SHARED, split="validation", limit=40)
    rows = {(x["rows"], x["set"], x["system"]): x for x in r["rows"]}
    assert {k[1] for k in rows} == {"en", "es", "gr", "ja", "pooled"}
    assert rows[("train+validation", "pooled", "hubbub")]["n"] == 4 * 60
    for (_, _, system), x in rows.items():
        assert 0 <= x["nmi_single"] <= 1 and 0 <= x["assigned"] <= 1
        if system == "hubbub":
            assert x["assigned"] >= 0.9 and x["stopword_labels"] == 0
    assert "## topics" in markdown({"split": "validation", "hubbub": "x", "data": "d", "at": "t", "results": [r]})
