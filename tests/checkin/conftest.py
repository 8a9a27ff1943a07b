"""Fixtures shared by the Check-in tests."""
import pytest

from tests.checkin.library import write_checkin_library


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """The small pets-and-family library (tests/checkin/library.py), indexed into a real catalog."""
    from catalog.indexer import index_folders
    from catalog.store import Store

    lib = write_checkin_library(tmp_path_factory.mktemp("checkin_lib"))
    st = Store(tmp_path_factory.mktemp("checkin_db") / "catalog.sqlite")
    index_folders([str(lib)], st)
    yield st
    st.close()
