"""The JSON shapes of the REST contract (camelCase; empty lists are [], never null)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rlarena.adapters.db.match_labels import LabelledMatch
from rlarena.adapters.db.models import Agent, Environment, Submission, SubmissionTransition, User
from rlarena.adapters.db.rating_queries import RatingEntry
from rlarena.adapters.db.repositories import OpponentRecord, RankedAgent, UserStats
from rlarena.domain.skill import Skill
from rlarena.environments.registry import spec_of


def timestamp(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "email": user.email,
        "fullName": user.full_name,
        "avatarUrl": user.avatar_url,
        "createdAt": timestamp(user.created_at),
        "updatedAt": timestamp(user.updated_at),
    }


def stats_view(stats: UserStats) -> dict[str, Any]:
    return {
        "totalSubmissions": stats.total_submissions,
        "activeAgents": stats.active_agents,
        "totalMatches": stats.total_matches,
        "totalWins": stats.total_wins,
        "bestRank": stats.best_rank,
    }


def agent_view(ranked: RankedAgent) -> dict[str, Any]:
    agent = ranked.agent
    return {
        "id": str(agent.id),
        "userId": str(agent.user_id),
        "username": ranked.username,
        "name": agent.name,
        "description": agent.description,
        "environmentId": agent.environment_id,
        "elo": agent.elo,
        "score": agent.elo,
        "wins": agent.wins,
        "losses": agent.losses,
        "draws": agent.draws,
        "totalMatches": agent.total_matches,
        "skill": skill_view(agent.skill_mu, agent.skill_sigma),
        "activeSubmissionId": str(agent.active_submission_id) if agent.active_submission_id else None,
        "rank": ranked.rank,
        "house": agent.is_house,  # a house agent, shipped with the platform (rlarena.house)
        "createdAt": timestamp(agent.created_at),
        "updatedAt": timestamp(agent.updated_at),
    }


def skill_view(mu: float | None, sigma: float | None) -> dict[str, float] | None:
    """The skill estimate; `conservative` (mu - 3 sigma) is what the agent very probably has at least."""
    if mu is None or sigma is None:
        return None
    return {"mu": mu, "sigma": sigma, "conservative": Skill(mu=mu, sigma=sigma).conservative}


def rating_history_view(entry: RatingEntry) -> dict[str, Any]:
    """One rating change, with whom the agent met and how it went (`result`: win, draw or loss)."""
    row = entry.row
    return {
        "matchId": str(row.match_id),
        "eloBefore": row.elo_before,
        "eloAfter": row.elo_after,
        "eloChange": row.elo_change,
        "skillBefore": skill_view(row.skill_mu_before, row.skill_sigma_before),
        "skill": skill_view(row.skill_mu_after, row.skill_sigma_after),
        "createdAt": timestamp(row.created_at),
        "opponentId": _id(entry.opponent_id),
        "opponentName": entry.opponent_name,
        "result": _result(entry.score),
        "score": entry.score,
    }


def _result(score: float | None) -> str | None:
    if score is None:
        return None
    return "win" if score > 0.5 else "loss" if score < 0.5 else "draw"


def opponent_view(record: OpponentRecord) -> dict[str, Any]:
    return {
        "opponentId": str(record.opponent_id),
        "opponentName": record.opponent_name,
        "wins": record.wins,
        "losses": record.losses,
        "draws": record.draws,
        "totalMatches": record.total_matches,
    }


def environment_view(environment: Environment) -> dict[str, Any]:
    """The seeded row, and what agents are given there (the same source as docs/agents.md)."""
    from rlarena.agent_docs.interface import describe, seeded_config  # only here: cold start of other routes

    spec = spec_of(environment.id)
    return {
        "id": environment.id,
        "name": environment.name,
        "description": environment.description,
        "version": environment.version,
        "config": seeded_config(spec, environment.config),
        "createdAt": timestamp(environment.created_at),
        **describe(spec),
    }


def submission_view(submission: Submission, agent: Agent) -> dict[str, Any]:
    code_url = submission.code_url or (
        f"/api/v1/submissions/{submission.id}/code" if submission.source_key and submission.source_size else None
    )
    return {
        "id": str(submission.id),
        "agentId": str(agent.id),
        "agentName": agent.name,
        "environmentId": agent.environment_id,
        "version": submission.version,
        "status": submission.status,
        "codeUrl": code_url,
        "dockerImageUrl": submission.docker_image_url,
        "buildJobName": submission.build_job_name,
        "buildPodName": submission.build_pod_name,
        "buildLog": submission.build_log,
        "retryCount": submission.retry_count,
        "lastRetryAt": timestamp(submission.last_retry_at),
        "errorMessage": submission.error_message,
        "isActive": submission.is_active,
        "entryPoint": submission.entry_point,
        "sourceFilename": submission.source_filename,
        "sourceSize": submission.source_size,
        "sha256": submission.source_sha256,
        "createdAt": timestamp(submission.created_at),
        "updatedAt": timestamp(submission.updated_at),
    }


def transition_view(transition: SubmissionTransition) -> dict[str, Any]:
    return {"status": transition.status, "message": transition.message, "at": timestamp(transition.created_at)}


def _id(value: object) -> str | None:
    return str(value) if value is not None else None


def match_view(record: LabelledMatch) -> dict[str, Any]:
    """replayUrl/replayHtmlUrl are this API's download paths (the stored key stays internal).
    endReason says why the game ended, naming an agent that failed; agentNStatus is each side's
    OK, ERROR, TIMEOUT or INVALID (null until the match has a result)."""
    match = record.match
    replay = f"/api/v1/matches/{match.id}/replay" if match.replay_url else None
    return {
        "id": str(match.id),
        "environmentId": match.environment_id,
        "agent1Id": str(match.agent1_id),
        "agent2Id": str(match.agent2_id),
        "agent1Name": record.agent1_name,
        "agent2Name": record.agent2_name,
        "agent1Version": record.agent1_version,
        "agent2Version": record.agent2_version,
        "agent1SubmissionId": _id(match.agent1_submission_id),
        "agent2SubmissionId": _id(match.agent2_submission_id),
        "status": match.status,
        "winnerId": _id(match.winner_id),
        "agent1Score": match.agent1_score,
        "agent2Score": match.agent2_score,
        "agent1EloChange": match.agent1_elo_change,
        "agent2EloChange": match.agent2_elo_change,
        "isRated": match.is_rated,
        "endReason": match.end_reason,
        "agent1Status": match.agent1_status,
        "agent2Status": match.agent2_status,
        "isPublic": match.is_public,
        "replayUrl": f"{replay}?format=json" if replay else None,
        "replayHtmlUrl": f"{replay}?format=html" if replay else None,
        "errorMessage": match.error_message,
        "startedAt": timestamp(match.started_at),
        "completedAt": timestamp(match.completed_at),
        "createdAt": timestamp(match.created_at),
    }
