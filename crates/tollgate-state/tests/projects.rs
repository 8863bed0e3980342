//! Removing a project or some of its branches: what waited there is unstaged, with an entry
//! in the log each, and the project's history stays.

use tollgate_api::{ChangeState, ProjectSpec};
use tollgate_state::{Cursor, Db, NewChange};

async fn db_with_changes() -> (tempfile::TempDir, Db, Vec<i64>) {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(&tmp.path().join("state.sqlite")).await.unwrap();
    let spec = ProjectSpec {
        name: "demo/app".into(),
        url: "file:///srv/demo/app.git".into(),
        branches: vec!["main".into(), "dev".into()],
        product: None,
    };
    db.upsert_project(&spec).await.unwrap();
    let mut ids = Vec::new();
    for (branch, commit) in [("main", "a1"), ("dev", "b1"), ("dev", "b2")] {
        let change = NewChange {
            project: "demo/app",
            branch,
            commit: &commit.repeat(20),
            subject: "a change",
            author: "Ada <ada@example.org>",
            origin: "api",
        };
        ids.push(db.stage(&change).await.unwrap().0.id);
    }
    (tmp, db, ids)
}

#[tokio::test]
async fn removing_a_branch_unstages_what_waits_there_and_keeps_the_rest() {
    let (_tmp, db, ids) = db_with_changes().await;
    let unstaged = db.remove_branches("demo/app", Some(&["dev".to_owned()])).await.unwrap();
    assert_eq!(unstaged, ids[1..]);
    for &id in &ids[1..] {
        assert_eq!(db.change(id).await.unwrap().unwrap().state, ChangeState::Unstaged);
    }
    assert_eq!(db.change(ids[0]).await.unwrap().unwrap().state, ChangeState::Staged);
    let project = db.project("demo/app").await.unwrap().unwrap();
    assert_eq!(project.spec.branches, ["main"]);
    let events = db.events(None, Cursor::After(0), 100).await.unwrap().items;
    let unstaged: Vec<_> = events.iter().filter(|e| e.kind == "unstaged").collect();
    assert_eq!(unstaged.len(), 2);
    assert_eq!(unstaged[0].detail["why"], "the branch is not gated any more");

    let refused = db.remove_branches("demo/app", Some(&["dev".to_owned()])).await.unwrap_err();
    assert!(refused.to_string().contains("does not gate branch `dev`; it gates: main"));
    let unstaged = db.remove_branches("demo/app", None).await.unwrap();
    assert_eq!(unstaged, [ids[0]]);
    assert!(db.project("demo/app").await.unwrap().is_none());
    // The history stays: the changes are still there to look at.
    assert_eq!(db.change(ids[0]).await.unwrap().unwrap().state, ChangeState::Unstaged);
    let refused = db.remove_branches("demo/app", None).await.unwrap_err();
    assert!(refused.to_string().contains("no project `demo/app`"), "{refused}");
}

#[tokio::test]
async fn a_commit_prefix_of_digits_names_its_change_when_no_change_has_that_id() {
    let (_tmp, db, _) = db_with_changes().await;
    let change = NewChange {
        project: "demo/app",
        branch: "main",
        commit: &"92".repeat(20),
        subject: "digits first",
        author: "Ada <ada@example.org>",
        origin: "api",
    };
    let id = db.stage(&change).await.unwrap().0.id;
    db.unstage("demo/app", "main", "92929292").await.unwrap();
    let said = db.unstage("demo/app", "main", "92929292").await.unwrap_err().to_string();
    assert!(said.contains(&format!("change {id} (929292929292) was unstaged already")), "{said}");
}
