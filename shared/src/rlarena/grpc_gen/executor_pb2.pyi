# Generated from protos/ by protos/generate.py (grpcio-tools). Do not edit.
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[MatchStatus]
    SUCCESS: _ClassVar[MatchStatus]
    TIMEOUT: _ClassVar[MatchStatus]
    ERROR: _ClassVar[MatchStatus]
    CANCELLED: _ClassVar[MatchStatus]

class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_OK: _ClassVar[AgentStatus]
    AGENT_ERROR: _ClassVar[AgentStatus]
    AGENT_TIMEOUT: _ClassVar[AgentStatus]
    AGENT_INVALID: _ClassVar[AgentStatus]
UNKNOWN: MatchStatus
SUCCESS: MatchStatus
TIMEOUT: MatchStatus
ERROR: MatchStatus
CANCELLED: MatchStatus
AGENT_OK: AgentStatus
AGENT_ERROR: AgentStatus
AGENT_TIMEOUT: AgentStatus
AGENT_INVALID: AgentStatus

class AgentConfig(_message.Message):
    __slots__ = ("agent_id", "code_url", "version", "metadata", "docker_image", "submission_id", "entry_point")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_URL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DOCKER_IMAGE_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_POINT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    code_url: str
    version: int
    metadata: _containers.ScalarMap[str, str]
    docker_image: str
    submission_id: str
    entry_point: str
    def __init__(self, agent_id: _Optional[str] = ..., code_url: _Optional[str] = ..., version: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ..., docker_image: _Optional[str] = ..., submission_id: _Optional[str] = ..., entry_point: _Optional[str] = ...) -> None: ...

class MatchRequest(_message.Message):
    __slots__ = ("match_id", "environment", "agents", "timeout_sec", "record_replay", "seed", "wait")
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SEC_FIELD_NUMBER: _ClassVar[int]
    RECORD_REPLAY_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    match_id: str
    environment: str
    agents: _containers.RepeatedCompositeFieldContainer[AgentConfig]
    timeout_sec: int
    record_replay: bool
    seed: int
    wait: bool
    def __init__(self, match_id: _Optional[str] = ..., environment: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[AgentConfig, _Mapping]]] = ..., timeout_sec: _Optional[int] = ..., record_replay: _Optional[bool] = ..., seed: _Optional[int] = ..., wait: _Optional[bool] = ...) -> None: ...

class AgentResult(_message.Message):
    __slots__ = ("agent_id", "score", "errors", "error_message", "status", "logs_url")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOGS_URL_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    score: float
    errors: _containers.RepeatedScalarFieldContainer[str]
    error_message: str
    status: AgentStatus
    logs_url: str
    def __init__(self, agent_id: _Optional[str] = ..., score: _Optional[float] = ..., errors: _Optional[_Iterable[str]] = ..., error_message: _Optional[str] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., logs_url: _Optional[str] = ...) -> None: ...

class MatchResponse(_message.Message):
    __slots__ = ("match_id", "status", "winner_agent_id", "agent_results", "replay_url", "replay_html_url", "error_message", "total_steps", "execution_time_sec")
    MATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WINNER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_RESULTS_FIELD_NUMBER: _ClassVar[int]
    REPLAY_URL_FIELD_NUMBER: _ClassVar[int]
    REPLAY_HTML_URL_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_SEC_FIELD_NUMBER: _ClassVar[int]
    match_id: str
    status: MatchStatus
    winner_agent_id: str
    agent_results: _containers.RepeatedCompositeFieldContainer[AgentResult]
    replay_url: str
    replay_html_url: str
    error_message: str
    total_steps: int
    execution_time_sec: float
    def __init__(self, match_id: _Optional[str] = ..., status: _Optional[_Union[MatchStatus, str]] = ..., winner_agent_id: _Optional[str] = ..., agent_results: _Optional[_Iterable[_Union[AgentResult, _Mapping]]] = ..., replay_url: _Optional[str] = ..., replay_html_url: _Optional[str] = ..., error_message: _Optional[str] = ..., total_steps: _Optional[int] = ..., execution_time_sec: _Optional[float] = ...) -> None: ...

class ValidateRequest(_message.Message):
    __slots__ = ("agent", "environment")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    agent: AgentConfig
    environment: str
    def __init__(self, agent: _Optional[_Union[AgentConfig, _Mapping]] = ..., environment: _Optional[str] = ...) -> None: ...

class ValidateResponse(_message.Message):
    __slots__ = ("valid", "error_message", "logs", "interface")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    error_message: str
    logs: str
    interface: str
    def __init__(self, valid: _Optional[bool] = ..., error_message: _Optional[str] = ..., logs: _Optional[str] = ..., interface: _Optional[str] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("healthy", "version", "active_matches", "max_concurrent_matches")
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_MATCHES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_MATCHES_FIELD_NUMBER: _ClassVar[int]
    healthy: bool
    version: str
    active_matches: int
    max_concurrent_matches: int
    def __init__(self, healthy: _Optional[bool] = ..., version: _Optional[str] = ..., active_matches: _Optional[int] = ..., max_concurrent_matches: _Optional[int] = ...) -> None: ...
