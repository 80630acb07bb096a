# Home Manager switch cycles for alice with the fake claude: switch 1; Claude
# writes state in the account dir, a repository and a linked worktree; switch
# 2 (a server added, one removed, a permission changed, an account added);
# then enforcement, pruning, preservation, isolation, single instance,
# closing, `git worktree remove`, and broken manifests that change nothing.
{ gen1, gen2 }:
{
  name = "claude-accounts-switch-cycles";

  nodes.machine =
    { pkgs, ... }:
    {
      virtualisation.memorySize = 2048;
      # The generations are built on the host, like `home-manager switch`
      # would build them; the test activates them.
      virtualisation.additionalPaths = [
        gen1
        gen2
      ];
      users.users.alice = {
        isNormalUser = true;
        uid = 1000;
      };
      environment.systemPackages = [
        pkgs.git
        pkgs.jq
      ];
    };

  testScript = ''
    import json
    import re
    import shlex

    MAX = "/home/alice/.claude-max"
    PRO = "/home/alice/.claude-pro"
    MAIN_RT = "/home/alice/src/proj/.git/claude-runtime/max"
    WT_RT = "/home/alice/src/proj/.git/worktrees/proj-wt/claude-runtime/max"


    def login_shell(cmd: str) -> str:
        return "su -l alice -c " + shlex.quote(cmd)


    def alice(cmd: str) -> str:
        return machine.succeed(login_shell(cmd))


    def alice_fails(cmd: str) -> str:
        return machine.fail(login_shell(cmd))


    def json_file(path: str) -> dict:
        return json.loads(machine.succeed("cat " + shlex.quote(path)))


    def claude(wrapper: str, where: str, report: str, actions: str = "", args: str = "") -> dict:
        """Runs a wrapper in a directory with fake-claude actions; returns its report."""
        env = f"FAKE_CLAUDE_REPORT={report}"
        if actions:
            env += " FAKE_CLAUDE_ACTIONS=" + shlex.quote(actions)
        alice(f"cd {where} && env {env} {wrapper} {args}")
        return json_file(report)


    def switch(generation: str) -> str:
        """Activates a Home Manager generation, as `home-manager switch` does."""
        return alice(f"NO_COLOR=1 {generation}/activate --driver-version 1 2>&1")


    def helper_output(log: str) -> str:
        """What the claudeAccounts activation step printed."""
        plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
        assert "Activating claudeAccounts" in plain, plain
        after = plain.split("Activating claudeAccounts", 1)[1]
        return after.split("Activating ", 1)[0].strip()


    def fingerprint(*dirs: str) -> str:
        """Every entry under dirs: path, type, link target, and file hashes."""
        paths = " ".join(dirs)
        return machine.succeed(
            f"find {paths} -printf '%p %y %l\\n' | sort && "
            f"find {paths} -type f -exec sha256sum {{}} + | sort"
        )


    machine.wait_for_unit("multi-user.target")
    alice("mkdir -p ~/.local/state/nix/profiles")
    alice(
        "git config --global user.name Alice && "
        "git config --global user.email alice@example.com && "
        "git config --global init.defaultBranch main"
    )
    alice(
        "mkdir -p ~/src/proj && cd ~/src/proj && git init -q && "
        "echo hello > README && git add README && git commit -qm init && "
        "git worktree add -q ../proj-wt"
    )

    with subtest("switch 1 writes real, writable files and links the assets"):
        switch("${gen1}")
        machine.succeed(f"test -f {MAX}/settings.json && test ! -L {MAX}/settings.json")
        machine.succeed(f"test -f {MAX}/.claude.json && test ! -L {MAX}/.claude.json")
        settings = json_file(f"{MAX}/settings.json")
        assert settings["theme"] == "dark", settings
        assert settings["permissions"]["allow"] == ["Bash(git status)", "Bash(cargo test:*)"], settings
        assert settings["permissions"]["deny"] == ["Read(./.env)"], settings
        state = json_file(f"{MAX}/.claude.json")
        assert sorted(state["mcpServers"]) == ["drop", "github", "keep"], state
        assert state["mcpServers"]["keep"] == {"type": "stdio", "command": "keep-server", "args": ["--stdio"]}, state
        assert state["editorMode"] == "vim", state
        machine.succeed(f"test -L {MAX}/commands && test -f {MAX}/commands/deploy.md")
        assert machine.succeed(f"cat {MAX}/CLAUDE.md").strip() == "Generation 1 memory."

    with subtest("activating the same generation again changes nothing and says nothing"):
        before = fingerprint(MAX)
        out = helper_output(switch("${gen1}"))
        assert out == "", out
        assert fingerprint(MAX) == before

    with subtest("outside git, claudemax runs in the account dir with its arguments untouched"):
        report = claude(
            "claudemax", "/tmp", "/tmp/outside.json",
            "login:max@example.com,startup,add-mcp:user-added,set-model:sonnet",
            "--append-system-prompt 'two words' -- '''",
        )
        assert report["configDir"] == MAX, report
        assert report["args"] == ["--append-system-prompt", "two words", "--", ""], report["args"]
        state = json_file(f"{MAX}/.claude.json")
        assert "user-added" in state["mcpServers"], state
        assert state["oauthAccount"]["emailAddress"] == "max@example.com", state
        assert json_file(f"{MAX}/settings.json")["model"] == "sonnet"
        machine.succeed(f"test -f {MAX}/.credentials.json")

    with subtest("each worktree gets its own runtime dir, of the one account"):
        main = claude("claudemax", "~/src/proj", "/tmp/main.json", "startup,add-mcp:main-only")
        wt = claude("claudemax", "~/src/proj-wt", "/tmp/wt.json", "startup,set-model:haiku")
        assert main["configDir"] == MAIN_RT, main
        assert wt["configDir"] == WT_RT, wt
        account = json_file(f"{MAX}/.claude.json")
        wt_state = json_file(f"{WT_RT}/.claude.json")
        main_state = json_file(f"{MAIN_RT}/.claude.json")
        # Seeded identity: no login, no first-run wizard in a new worktree.
        assert wt_state["oauthAccount"] == account["oauthAccount"], wt_state
        assert wt_state["hasCompletedOnboarding"] is True, wt_state
        # The account's servers in every runtime dir; what a session adds at
        # user scope is the account's, and reaches the next session elsewhere.
        assert {"drop", "github", "keep"} <= set(wt_state["mcpServers"]), wt_state
        assert "main-only" in main_state["mcpServers"], main_state
        assert "main-only" in account["mcpServers"], account
        assert "main-only" in wt_state["mcpServers"], wt_state
        # Every entry but .claude.json links to the account dir (assets two
        # hops from the store); no credentials in a runtime dir.
        for entry in ("commands", "settings.json"):
            assert machine.succeed(f"readlink {WT_RT}/{entry}").strip() == f"{MAX}/{entry}"
        machine.succeed(f"test ! -e {WT_RT}/.credentials.json")
        # A model chosen in a worktree is the account's (one settings.json).
        assert json_file(f"{MAX}/settings.json")["model"] == "haiku"

    with subtest("the user edits settings.json by hand"):
        alice(
            f"jq '.permissions.allow += [\"Bash(ls)\"] | .editorMode = \"vim\" | .theme = \"light\"' "
            f"{MAX}/settings.json > /tmp/edited.json && cat /tmp/edited.json > {MAX}/settings.json"
        )

    with subtest("switch 2 enforces, prunes and preserves"):
        state_before = json_file(f"{MAX}/.claude.json")
        credentials = machine.succeed(f"sha256sum {MAX}/.credentials.json")
        transcripts = machine.succeed(f"find {MAX}/projects -type f | sort")
        switch("${gen2}")
        settings = json_file(f"{MAX}/settings.json")
        assert set(settings["permissions"]["allow"]) == {"Bash(git status)", "Bash(nix build:*)", "Bash(ls)"}, settings
        assert settings["permissions"]["deny"] == ["Read(./.env)"], settings
        assert settings["theme"] == "dark", "a Nix-owned value changed by hand is enforced back"
        assert settings["model"] == "haiku", "Claude's own setting is kept"
        assert settings["editorMode"] == "vim", "the user's own key is kept"
        state = json_file(f"{MAX}/.claude.json")
        assert set(state["mcpServers"]) == {"github", "keep", "added", "user-added", "main-only"}, state
        for key in ("oauthAccount", "userID", "numStartups", "projects"):
            assert state[key] == state_before[key], key
        assert machine.succeed(f"sha256sum {MAX}/.credentials.json") == credentials
        assert machine.succeed(f"find {MAX}/projects -type f | sort") == transcripts
        machine.succeed(f"test -f {MAX}/commands/review.md && test ! -e {MAX}/commands/deploy.md")
        assert machine.succeed(f"cat {MAX}/CLAUDE.md").strip() == "Generation 2 memory."
        # The added account.
        assert json_file(f"{PRO}/settings.json")["permissions"]["allow"] == ["Read"]
        assert list(json_file(f"{PRO}/.claude.json")["mcpServers"]) == ["pro-only"]
        alice("command -v claudepro")

    with subtest("the next launch in a worktree applies switch 2 there"):
        claude("claudemax", "~/src/proj-wt", "/tmp/wt2.json", "startup")
        wt_state = json_file(f"{WT_RT}/.claude.json")
        assert {"added", "github", "keep"} <= set(wt_state["mcpServers"]), wt_state
        assert "drop" not in wt_state["mcpServers"], wt_state
        assert wt_state["numStartups"] == 2, wt_state
        wt_settings = json_file(f"{WT_RT}/settings.json")
        # The account's settings.json (the user's hand edit included).
        assert set(wt_settings["permissions"]["allow"]) == {"Bash(git status)", "Bash(nix build:*)", "Bash(ls)"}, wt_settings
        assert wt_settings["model"] == "haiku", wt_settings

    with subtest("isolation = session: a fresh runtime dir per launch, removed afterwards"):
        first = claude("claudepro", "~/src/proj", "/tmp/pro1.json", "startup")
        second = claude("claudepro", "~/src/proj", "/tmp/pro2.json", "startup")
        assert first["configDir"] != second["configDir"], (first, second)
        assert first["configDir"] != PRO, first
        machine.succeed(f"test ! -e {first['configDir']} && test ! -e {second['configDir']}")

    with subtest("one session per runtime dir; claude-status and claude-close"):
        # The whole background job's output goes to a file, or the test
        # driver would wait for it.
        alice(
            "(cd ~/src/proj-wt && env FAKE_CLAUDE_RUN_MS=forever FAKE_CLAUDE_REPORT=/tmp/bg.json "
            "claudemax) >/tmp/bg.log 2>&1 </dev/null &"
        )
        machine.wait_for_file("/tmp/bg.json")
        pid = json_file("/tmp/bg.json")["pid"]
        alice_fails("cd ~/src/proj-wt && env FAKE_CLAUDE_REPORT=/tmp/second.json claudemax")
        machine.succeed("test ! -e /tmp/second.json")
        # Another worktree of the same account is free.
        claude("claudemax", "~/src/proj", "/tmp/other.json")
        status = alice("claude-status")
        assert "max" in status and "/home/alice/src/proj-wt" in status, status
        alice("claude-close max --worktree /home/alice/src/proj-wt")
        machine.wait_until_fails(f"kill -0 {pid}")
        claude("claudemax", "~/src/proj-wt", "/tmp/after-close.json")

    with subtest("activation leaves a running session's .claude.json for the next launch"):
        alice(
            "(cd /tmp && env FAKE_CLAUDE_RUN_MS=forever FAKE_CLAUDE_REPORT=/tmp/bg2.json "
            "claudemax) >/tmp/bg2.log 2>&1 </dev/null &"
        )
        machine.wait_for_file("/tmp/bg2.json")
        pid = json_file("/tmp/bg2.json")["pid"]
        running = machine.succeed(f"sha256sum {MAX}/.claude.json")
        out = helper_output(switch("${gen1}"))
        assert machine.succeed(f"sha256sum {MAX}/.claude.json") == running
        assert "pending" in out and f"{MAX}/.claude.json" in out, out
        alice("claude-close max --all")
        machine.wait_until_fails(f"kill -0 {pid}")
        claude("claudemax", "/tmp", "/tmp/next.json")
        state = json_file(f"{MAX}/.claude.json")
        assert set(state["mcpServers"]) == {"github", "keep", "drop", "user-added", "main-only"}, state

    with subtest("git worktree remove takes the worktree's runtime dir with it"):
        alice("cd ~/src/proj && git worktree remove ../proj-wt")
        machine.succeed(f"test ! -e {WT_RT}")
        machine.succeed(f"test -d {MAIN_RT}")

    with subtest("a broken manifest leaves the previous state intact"):
        switch("${gen2}")
        alice("jq '.version = 99' ~/.config/claude-accounts/manifest.json > /tmp/wrong-version.json")
        alice(
            "jq '.accounts.max.configDir = \"relative\" | .accounts.pro.settings.model = \"x\"' "
            "~/.config/claude-accounts/manifest.json > /tmp/bad-account.json"
        )
        before = fingerprint(MAX, PRO, MAIN_RT)
        for manifest in ("/tmp/wrong-version.json", "/tmp/bad-account.json"):
            alice_fails(f"claude-accounts activate --manifest {manifest}")
        assert fingerprint(MAX, PRO, MAIN_RT) == before
  '';
}
