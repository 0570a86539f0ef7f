"""House agent: keeps its paddle level with the ball.

The observation is [ball_x, ball_y, ball_vx, ball_vy, paddle_0_y, paddle_1_y, score_0, score_1]
and `player` says which paddle is ours. y grows downwards: action 0 (up) lowers the paddle's y,
2 (down) raises it, 1 stays. A paddle moves 0.05 a step, faster than the ball ever climbs, so
following is enough to reach every ball; it only stays put when the ball is already level, so
it does not jitter.
"""

UP, STAY, DOWN = 0, 1, 2
PADDLE_SPEED = 0.05


def agent(observation, configuration):
    ball_y = observation["observation"][1]
    paddle_y = observation["observation"][4 + observation["player"]]
    if abs(ball_y - paddle_y) < PADDLE_SPEED / 2:
        return STAY
    return DOWN if ball_y > paddle_y else UP
