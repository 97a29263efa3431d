export interface PushFacts {
  /** Docker Hub's base URL, which the callback_url starts with */
  hubUrl: string;
  user: string;
  repo: string;
  tag: string;
  /** seconds since the epoch, as Docker Hub sends it */
  pushedAt: number;
  /** the webhook's id in callback_url */
  hookId: string;
}

/**
 * A push webhook's body as Docker Hub sends it:
 * https://docs.docker.com/docker-hub/repos/manage/webhooks/
 */
export function buildPushPayload(push: PushFacts): Record<string, unknown> {
  const { user, repo } = push;
  return {
    callback_url: `${push.hubUrl}/u/${user}/${repo}/hook/${push.hookId}/`,
    push_data: {
      pushed_at: push.pushedAt,
      images: [],
      tag: push.tag,
      pusher: user,
      media_type: 'application/vnd.docker.distribution.manifest.v2+json',
    },
    repository: {
      status: 'Active',
      description: '',
      is_trusted: true,
      full_description: '',
      repo_url: `https://hub.docker.com/r/${user}/${repo}`,
      owner: user,
      is_official: false,
      is_private: false,
      name: repo,
      namespace: user,
      star_count: 0,
      comment_count: 0,
      date_created: 1600000000,
      repo_name: `${user}/${repo}`,
    },
  };
}
