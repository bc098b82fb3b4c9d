"""The eventsourcing library's own test suites, run against the ledger recorders/factories.

After each recorder test, the ledger that the suite left behind must also verify (the suites
use topics like "topic1" that do not resolve, so the decode check is off there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteTrackingRecorder
from eventsourcing.tests import application as es_app_tests
from eventsourcing.tests import persistence as es_tests
from eventsourcing.utils import Environment

from ledger.config import environment_for
from ledger.keys import StaticSigners, signer_from_seed
from ledger.postgres_recorder import (
    LedgerPostgresApplicationRecorder,
    LedgerPostgresFactory,
    LedgerPostgresProcessRecorder,
)
from ledger.sqlite_recorder import (
    LedgerSQLiteApplicationRecorder,
    LedgerSQLiteFactory,
    LedgerSQLiteProcessRecorder,
)
from ledger.verify import verify_ledger

SIGNERS = StaticSigners(signer_from_seed(bytes(range(32))))


class _LedgerStore:
    """Mixin: fresh store per test, recorders built by our factory, verify at the end."""

    backend: ClassVar[str] = "sqlite"
    pg_url: ClassVar[str]
    reset_pg: ClassVar[Any]

    def setUp(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="caleol-es-")
        if self.backend == "sqlite":
            self.url = f"sqlite:///{self._tmp}/ledger.db"
        else:
            type(self).reset_pg()
            self.url = self.pg_url
        self._factories: list[InfrastructureFactory[Any]] = []
        self._recorders: list[Any] = []
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        try:
            for recorder in self._recorders:
                result = verify_ledger(recorder, check_decode=False)
                assert result.ok, result.message
        finally:
            for factory in self._factories:
                factory.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            super().tearDown()  # type: ignore[misc]

    def _factory(self) -> InfrastructureFactory[Any]:
        factory = InfrastructureFactory.construct(Environment("caleol", environment_for(self.url)))
        factory.signers = SIGNERS  # type: ignore[attr-defined]
        self._factories.append(factory)
        return factory

    def _application_recorder(self) -> Any:
        recorder = self._factory().application_recorder()
        self._recorders.append(recorder)
        return recorder

    def _process_recorder(self) -> Any:
        recorder = self._factory().process_recorder()
        self._recorders.append(recorder)
        return recorder


class _ApplicationRecorderCases(
    _LedgerStore, es_tests.ApplicationRecorderTestCase[ApplicationRecorder]
):
    __test__ = False

    def create_recorder(self) -> ApplicationRecorder:
        recorder: ApplicationRecorder = self._application_recorder()
        return recorder


class _ProcessRecorderCases(_LedgerStore, es_tests.ProcessRecorderTestCase):
    __test__ = False

    def create_recorder(self) -> ProcessRecorder:
        recorder: ProcessRecorder = self._process_recorder()
        return recorder


class _NonInterleavingCases(_LedgerStore, es_tests.NonInterleavingNotificationIDsBaseCase):
    __test__ = False

    def create_recorder(self) -> ApplicationRecorder:
        recorder: ApplicationRecorder = self._application_recorder()
        return recorder


class TestLedgerSQLiteApplicationRecorder(_ApplicationRecorderCases):
    __test__ = True


class TestLedgerSQLiteProcessRecorder(_ProcessRecorderCases):
    __test__ = True


class TestLedgerSQLiteNonInterleaving(_NonInterleavingCases):
    __test__ = True


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_unittest")
class TestLedgerPostgresApplicationRecorder(_ApplicationRecorderCases):
    __test__ = True
    backend = "postgres"


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_unittest")
class TestLedgerPostgresProcessRecorder(_ProcessRecorderCases):
    __test__ = True
    backend = "postgres"


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_unittest")
class TestLedgerPostgresNonInterleaving(_NonInterleavingCases):
    __test__ = True
    backend = "postgres"


# -- factories -------------------------------------------------------------------------------


class SQLiteTrackingRecorderSubclass(SQLiteTrackingRecorder):
    pass


class PostgresTrackingRecorderSubclass(PostgresTrackingRecorder):
    pass


class TestLedgerSQLiteFactory(es_tests.InfrastructureFactoryTestCase[LedgerSQLiteFactory]):
    __test__ = True

    def setUp(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="caleol-es-")
        self.env = Environment("TestCase")
        self.env.update(environment_for(f"sqlite:///{self._tmp}/ledger.db"))
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def expected_factory_class(self) -> type[LedgerSQLiteFactory]:
        return LedgerSQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return LedgerSQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return LedgerSQLiteProcessRecorder


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_unittest")
class TestLedgerPostgresFactory(es_tests.InfrastructureFactoryTestCase[LedgerPostgresFactory]):
    __test__ = True
    pg_url: ClassVar[str]
    reset_pg: ClassVar[Any]

    def setUp(self) -> None:
        type(self).reset_pg()
        self.env = Environment("TestCase")
        self.env.update(environment_for(self.pg_url))
        super().setUp()

    def expected_factory_class(self) -> type[LedgerPostgresFactory]:
        return LedgerPostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return LedgerPostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return LedgerPostgresProcessRecorder


# -- the library's example application on our infrastructure ----------------------------------


class _ExampleApplication(es_app_tests.ExampleApplicationTestCase):
    __test__ = False
    backend: ClassVar[str] = "sqlite"
    pg_url: ClassVar[str]
    reset_pg: ClassVar[Any]

    def setUp(self) -> None:
        super().setUp()
        self._tmp = tempfile.mkdtemp(prefix="caleol-es-")
        if self.backend == "sqlite":
            env = environment_for(f"sqlite:///{self._tmp}/ledger.db")
        else:
            type(self).reset_pg()
            env = environment_for(self.pg_url)
        env["CALEOL_KEY_DIR"] = os.path.join(self._tmp, "keys")
        self._saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)  # the example application reads its environment

    def tearDown(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self._tmp, ignore_errors=True)
        super().tearDown()


class TestLedgerSQLiteExampleApplication(_ExampleApplication):
    __test__ = True
    expected_factory_topic = "ledger.sqlite_recorder:LedgerSQLiteFactory"


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_unittest")
class TestLedgerPostgresExampleApplication(_ExampleApplication):
    __test__ = True
    backend = "postgres"
    expected_factory_topic = "ledger.postgres_recorder:LedgerPostgresFactory"
