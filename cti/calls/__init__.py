"""Call control: hotline transfers (one-key, three-way, emergency), agent desktop API, supervisor spy."""
