//! Where a work item's folders are on its agent: the values of `{{.AgentWorkingDir}}`,
//! `{{.SourceDir}}`, `{{.InstallDir}}` and `{{.InstallRoot}}` (COIN-FORMAT.md §9.2).

use crate::source::ProjectName;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The agent's work root; instructions start there.
    pub agent_working_dir: String,
    /// The module's sources: `<agent_working_dir>/<project>`, as in Coin (`…/qt/qtbase`).
    pub source_dir: String,
    /// Where dependency artifacts are unpacked and the module installs.
    pub install_dir: String,
    /// The staging root used as `DESTDIR`. The module artifact is
    /// `{{.InstallRoot}}/{{.AgentWorkingDir}}`, which unpacks to `<agent_working_dir>/install`.
    pub install_root: String,
    /// `{{.NumCPU}}`.
    pub num_cpu: u32,
    /// `{{.CoinDownloadURL}}`: where the agent downloads stored artifacts from.
    pub download_url: String,
}

impl Layout {
    /// Coin's layout under `agent_working_dir` (`/home/qt/work` on Coin's Linux machines).
    pub fn new(agent_working_dir: &str, project: &ProjectName, num_cpu: u32) -> Layout {
        let root = agent_working_dir.trim_end_matches('/');
        let root = if root.is_empty() { "/" } else { root };
        let under = |name: &str| format!("{}/{name}", root.trim_end_matches('/'));
        Layout {
            agent_working_dir: root.to_owned(),
            source_dir: under(project.as_str()),
            install_dir: under("install"),
            install_root: under("install-root"),
            num_cpu,
            download_url: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_coins_layout() {
        let layout = Layout::new("/home/qt/work/", &ProjectName::new("qt/qtbase").unwrap(), 8);
        assert_eq!(layout.agent_working_dir, "/home/qt/work");
        assert_eq!(layout.source_dir, "/home/qt/work/qt/qtbase");
        assert_eq!(layout.install_dir, "/home/qt/work/install");
        assert_eq!(layout.install_root, "/home/qt/work/install-root");
        let root = Layout::new("/", &ProjectName::new("demo/app").unwrap(), 1);
        assert_eq!(root.source_dir, "/demo/app");
    }
}
