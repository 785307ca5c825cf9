"""Call dispositions (话后小结) and knowledge items (知识条目) of specialist three-way calls (issue 21)."""
