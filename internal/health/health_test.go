package health

import "testing"

func TestBoard(t *testing.T) {
	var b Board
	if !b.Ready() {
		t.Fatal("empty board: got not ready, want ready")
	}
	b.Set("journal.append", NotReady, "disk full")
	b.Set("journal.lost", Degraded, "3 events lost")
	if b.Ready() {
		t.Fatal("with a NotReady condition: got ready, want not ready")
	}
	first := b.Conditions()[0].Since
	b.Set("journal.append", NotReady, "still full")
	c := b.Conditions()
	if len(c) != 2 || c[0].Name != "journal.append" || c[0].Message != "still full" || !c[0].Since.Equal(first) {
		t.Fatalf("got %+v, want journal.append updated with its first Since", c)
	}
	b.Clear("journal.append")
	if !b.Ready() || len(b.Conditions()) != 1 {
		t.Fatalf("after Clear: got ready=%v %+v, want ready with one degraded condition", b.Ready(), b.Conditions())
	}
	var nilBoard *Board
	nilBoard.Set("x", NotReady, "ignored")
	if !nilBoard.Ready() {
		t.Fatal("nil board: got not ready, want ready")
	}
}
