import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.data import text_fakes
from tfl.data import from_tfds_text


def test_mocked_imdb_reads_its_only_text_feature_and_class_names(tmp_path, tfds_mock):
    with tfds_mock(num_examples=10):
        data = from_tfds_text("imdb_reviews", data_dir=str(tmp_path), batch_size=4)
        inputs, labels = next(iter(data.train))
        validation = text_fakes.labels_of(data.validation)

    assert data.class_names == ("neg", "pos")
    assert (data.num_train, data.num_validation) == (10, 10)
    assert inputs["text"].dtype == "string" and labels.dtype == "int32" and labels.shape == (4,)
    np.testing.assert_array_equal(validation, data.validation_labels)


def test_mocked_ag_news_with_a_named_text_feature_and_a_preprocessor(tmp_path, tfds_mock):
    with tfds_mock(num_examples=40):
        data = from_tfds_text("ag_news_subset", text_column="description", data_dir=str(tmp_path),
                              preprocessor=text_fakes.preprocessor(16))
        inputs, _ = next(iter(data.validation))

    assert data.class_names == ("World", "Sports", "Business", "Sci/Tech")
    # Trimmed from sequence_length 16 to the longest text, at most 16.
    assert inputs["token_ids"].shape[0] == 32 and inputs["token_ids"].shape[1] in (8, 16)
    assert data.truncated is not None


def test_a_pair_feature_leaves_the_other_text_feature(tmp_path, tfds_mock):
    with tfds_mock(num_examples=40):
        data = from_tfds_text("ag_news_subset", text_pair_column="description", data_dir=str(tmp_path))
        inputs, _ = next(iter(data.train))

    assert data.text_pairs and set(inputs) == {"text", "text_pair"}


def test_several_text_features_are_an_error_listing_them(tmp_path, tfds_mock):
    message = (r"'ag_news_subset' has text features title, description "
               r"\(its features: label, title, description\).*Pass text_column=")
    with tfds_mock(num_examples=4), pytest.raises(ValueError, match=message):
        from_tfds_text("ag_news_subset", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "name, message",
    [
        ("mnist", r"'mnist' has no text feature \(its features: image, label\). It looks like image data"),
        ("cifar10", r"'cifar10' has text features id \(its features: id, image, label\). It looks like image"),
    ],
    ids=["no_text_feature", "an_id_text_feature"],
)
def test_image_data_is_pointed_to_from_tfds(name, message, tmp_path):
    with pytest.raises(ValueError, match=message + ".*use from_tfds"):
        from_tfds_text(name, data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"text_column": "body"}, ValueError, "'imdb_reviews' has no feature 'body'. Its features: text, label"),
        ({"label_column": "text"}, TypeError,
         "Feature 'text' of TFDS data set 'imdb_reviews' is a Text, not a ClassLabel. Pass label_column= one of: label"),
    ],
    ids=["unknown_text_column", "label_column_not_a_class_label"],
)
def test_bad_feature_names_fail_before_any_download(kwargs, error, message, tmp_path, monkeypatch):
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", pytest.fail)

    with pytest.raises(error, match=message):
        from_tfds_text("imdb_reviews", data_dir=str(tmp_path), **kwargs)


def test_unprepared_text_data_set_offline_fails_fast(tmp_path, monkeypatch):
    attempts = []

    def no_route(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_route)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", lambda *a, **k: attempts.append(a))

    with pytest.raises(FileNotFoundError, match=r"(?s)'imdb_reviews' is not prepared.*"
                                                r"cannot reach storage.googleapis.com.*tfds build imdb_reviews"):
        from_tfds_text("imdb_reviews", data_dir=str(tmp_path))
    assert attempts == []


def test_unknown_name_suggests_close_ones():
    with pytest.raises(ValueError, match="Unknown TFDS data set 'imdb_review'.*Close matches: .*imdb_reviews"):
        from_tfds_text("imdb_review")
